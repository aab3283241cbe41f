# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""From one recording of a conversation to its emotion timeline.

- `segment_recording` (`segmentation.py`): utterances from voice activity (Silero VAD) and speakers from speaker
  embeddings (`diarization.py`: resemblyzer's encoder offline by default, or a `transformers` x-vector model);
- `iter_audio_chunks` (`audio.py`): a recording read in 16 kHz mono chunks, never whole; `boundary_f1` /
  `speaker_error` (`metrics.py`): a segmentation scored against a reference;
- `transcribe_utterances` (`transcription.py`): text from any `transformers` speech recognition model, its word
  timestamps placed into the utterances;
- `write_conversation_csv` (`conversation.py`): the `conversation.csv` that `mcn-cl predict --clips` reads (the
  recording as the clip, `start` / `end` per utterance), to correct by hand and continue;
- `write_srt` / `write_vtt` (`subtitles.py`): each utterance's speaker and emotion as subtitles;
- `build_app` (`app.py`): the Gradio page; `write_space` writes a Hub Space's `app.py` + `requirements.txt`.

The heavy libraries (torch, silero-vad, gradio) are imported on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "segment_recording": "mcn_cl.recording.segmentation",
    "RecordingSegmentation": "mcn_cl.recording.segmentation",
    "iter_audio_chunks": "mcn_cl.recording.audio",
    "boundary_f1": "mcn_cl.recording.metrics",
    "speaker_error": "mcn_cl.recording.metrics",
    "cluster_speakers": "mcn_cl.recording.diarization",
    "get_speaker_encoder": "mcn_cl.recording.diarization",
    "transcribe_utterances": "mcn_cl.recording.transcription",
    "place_words": "mcn_cl.recording.transcription",
    "write_conversation_csv": "mcn_cl.recording.conversation",
    "recording_conversation": "mcn_cl.recording.conversation",
    "write_srt": "mcn_cl.recording.subtitles",
    "write_vtt": "mcn_cl.recording.subtitles",
    "build_app": "mcn_cl.recording.app",
    "write_space": "mcn_cl.recording.app",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mcn_cl.recording' has no attribute {name!r}")


__all__ = list(_LAZY)

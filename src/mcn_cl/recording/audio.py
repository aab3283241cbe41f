# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""A recording read as consecutive mono float32 16 kHz chunks (:func:`iter_audio_chunks`), never whole.

wav / flac / ogg through soundfile (resampled with audresample), any other container's first audio track through
PyAV, or a waveform array already in memory. Unreadable files, files without audio and empty audio are
`MCNCLMediaError`s. Used by the segmentation (`segmentation.py`) and the transcription (`transcription.py`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..processing import MCNCLMediaError
from ..processing.inputs_mcn_cl import SOUNDFILE_EXTENSIONS, decode_mono_frames, open_audio_stream

SAMPLING_RATE = 16000
VAD_FRAME = 512  # samples per Silero VAD step at 16 kHz (32 ms): the shortest chunk read


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLING_RATE or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    import audresample

    return audresample.resample(samples.astype(np.float32), rate, SAMPLING_RATE)[0]


def _chunks_soundfile(path: str, chunk: int) -> Iterator[np.ndarray]:
    import soundfile as sf

    try:
        f = sf.SoundFile(path)
    except Exception as err:  # libsndfile's error types vary by version
        raise MCNCLMediaError(f"unreadable audio file ({err})", path) from err
    with f:
        if f.frames == 0 or f.samplerate <= 0:
            raise MCNCLMediaError("zero-length audio", path)
        block = max(1, int(chunk * f.samplerate / SAMPLING_RATE))
        try:
            while True:
                data = f.read(block, dtype="float32", always_2d=True)
                if not len(data):
                    return
                yield _resample(data.mean(axis=1), f.samplerate)
        except MCNCLMediaError:
            raise
        except Exception as err:
            raise MCNCLMediaError(f"unreadable audio file ({err})", path) from err


def _chunks_pyav(path: str, chunk: int) -> Iterator[np.ndarray]:
    with open_audio_stream(path) as (container, stream):
        pending, size, any_samples = [], 0, False
        for _, arrays, _ in decode_mono_frames(container, stream, path, rate=SAMPLING_RATE):
            pending += arrays
            size += sum(a.size for a in arrays)
            if size >= chunk:
                any_samples = True
                yield np.concatenate(pending).astype(np.float32)
                pending, size = [], 0
        if pending and sum(p.size for p in pending):
            any_samples = True
            yield np.concatenate(pending).astype(np.float32)
        if not any_samples:
            raise MCNCLMediaError("zero-length audio (the audio stream holds no samples)", path)


def iter_audio_chunks(
    recording: Any, chunk_s: float = 30.0, sampling_rate: int | None = None
) -> Iterator[np.ndarray]:
    """The recording as consecutive mono float32 16 kHz chunks of about `chunk_s` seconds.

    `recording`: a file path (wav / flac / ogg through soundfile, any other container's first audio track through
    PyAV), or a waveform array with `sampling_rate` (or a `{"array", "sampling_rate"}` dict). Files are never read
    whole. Unreadable files, files without audio and empty audio are `MCNCLMediaError`s."""
    chunk = max(VAD_FRAME, int(chunk_s * SAMPLING_RATE))
    if isinstance(recording, str | os.PathLike):
        path = os.fspath(recording)
        if not os.path.isfile(path):
            raise MCNCLMediaError("file not found", path)
        if os.path.splitext(path)[1].lower() in SOUNDFILE_EXTENSIONS:
            yield from _chunks_soundfile(path, chunk)
        else:
            yield from _chunks_pyav(path, chunk)
        return
    from ..processing.inputs_mcn_cl import load_audio

    samples = load_audio(recording, sampling_rate=sampling_rate)
    for i in range(0, samples.size, chunk):
        yield samples[i : i + chunk]


__all__ = ["SAMPLING_RATE", "iter_audio_chunks"]

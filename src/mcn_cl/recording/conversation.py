# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""A segmented recording as the conversation the model reads: the recording is every utterance's medium, read
through the processor's window (`start` / `end`), never cut into files.

`write_conversation_csv` writes the `conversation.csv` of `mcn-cl predict --clips FOLDER` (columns `clip`,
`speaker`, `text`, `audio`, `start`, `end`): a video recording is the `clip` (its audio track is the audio), an
audio-only recording the `audio`; paths are relative to the CSV's folder. Correct it by hand (speakers, text,
times) and continue with `predict --clips`, `stream --clips` or training.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from typing import Any

CSV_COLUMNS = ("clip", "speaker", "text", "audio", "start", "end")


def has_video(path: str | os.PathLike) -> bool:
    """Whether the file is a container with a video stream (an audio file, or an unreadable one, has none)."""
    import av

    try:
        with av.open(os.fspath(path)) as container:
            return bool(container.streams.video)
    except Exception:  # not a container PyAV reads: the audio reader will say what is wrong
        return False


def recording_conversation(
    recording: str | os.PathLike,
    utterances: Sequence[Mapping[str, Any]],
    dialogue_id: str | None = None,
    video: bool | None = None,
) -> dict[str, Any]:
    """`{"dialogue_id", "utterances"}` in the processor's format: each utterance's `audio` (and `video`, for a
    video recording) is the recording itself with the utterance's `start` / `end`; empty text is `None` (masked)."""
    path = os.path.abspath(os.fspath(recording))
    video = has_video(path) if video is None else video
    out = []
    for u in utterances:
        item = {
            "audio": path,
            "start": float(u["start"]),
            "end": float(u["end"]),
            "speaker": u.get("speaker"),
            "text": u.get("text") or None,
        }
        if video:
            item["video"] = path
        out.append(item)
    name = dialogue_id or os.path.splitext(os.path.basename(path))[0]
    return {"dialogue_id": name, "utterances": out}


def write_conversation_csv(
    path: str | os.PathLike,
    recording: str | os.PathLike,
    utterances: Sequence[Mapping[str, Any]],
    video: bool | None = None,
) -> str:
    """Write the `conversation.csv` of the segmented `recording` (one row per utterance); returns the path."""
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    recording = os.path.abspath(os.fspath(recording))
    video = has_video(recording) if video is None else video
    try:
        relative = os.path.relpath(recording, folder)
    except ValueError:  # another drive (Windows)
        relative = recording
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for u in utterances:
            writer.writerow(
                {
                    "clip": relative if video else "",
                    "audio": "" if video else relative,
                    "speaker": u.get("speaker") or "",
                    "text": u.get("text") or "",
                    "start": f"{float(u['start']):.3f}",
                    "end": f"{float(u['end']):.3f}",
                }
            )
    return path

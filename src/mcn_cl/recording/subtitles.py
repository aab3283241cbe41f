# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Each utterance's speaker and predicted emotion as subtitles (SubRip `.srt` and WebVTT `.vtt`), so that any
video player shows the emotions over the recording. A cue reads `speaker 1: joy (0.82)`, with the utterance's text
(when transcribed) on a second line."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any


def _timestamp(seconds: float, separator: str) -> str:
    ms = int(round(max(0.0, seconds) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def cue_text(utterance: Mapping[str, Any], prediction: Mapping[str, Any]) -> str:
    """`speaker: emotion (confidence)` and the utterance's text (if any) on the next line."""
    speaker = prediction.get("speaker") or utterance.get("speaker") or "?"
    line = f"{speaker}: {prediction['label']} ({prediction['score']:.2f})"
    text = " ".join(str(utterance.get("text") or "").split())
    return f"{line}\n{text}" if text else line


def _cues(utterances, predictions, separator: str) -> list[str]:
    if len(utterances) != len(predictions):
        raise ValueError(f"{len(utterances)} utterances but {len(predictions)} predictions")
    cues = []
    for i, (u, p) in enumerate(zip(utterances, predictions)):
        if u.get("start") is None or u.get("end") is None:
            raise ValueError(f"utterance {i}: subtitles need its start and end times")
        times = f"{_timestamp(u['start'], separator)} --> {_timestamp(u['end'], separator)}"
        cues.append((i, times, cue_text(u, p)))
    return cues


def format_srt(utterances: Sequence[Mapping[str, Any]], predictions: Sequence[Mapping[str, Any]]) -> str:
    """The SubRip text: numbered cues, `HH:MM:SS,mmm` times."""
    return "\n".join(f"{i + 1}\n{times}\n{text}\n" for i, times, text in _cues(utterances, predictions, ","))


def format_vtt(utterances: Sequence[Mapping[str, Any]], predictions: Sequence[Mapping[str, Any]]) -> str:
    """The WebVTT text: `WEBVTT` header, `HH:MM:SS.mmm` times."""
    body = "\n".join(f"{times}\n{text}\n" for _, times, text in _cues(utterances, predictions, "."))
    return "WEBVTT\n\n" + body


def write_subtitles(
    path: str | os.PathLike, utterances: Sequence[Mapping[str, Any]], predictions: Sequence[Mapping[str, Any]]
) -> str:
    """Write SubRip or WebVTT, chosen by the extension (`.vtt` -> WebVTT, anything else SubRip); returns the path."""
    path = os.fspath(path)
    text = (format_vtt if path.lower().endswith(".vtt") else format_srt)(utterances, predictions)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def write_srt(path, utterances, predictions) -> str:
    """SubRip subtitles (see `format_srt`)."""
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        f.write(format_srt(utterances, predictions))
    return os.fspath(path)


def write_vtt(path, utterances, predictions) -> str:
    """WebVTT subtitles (see `format_vtt`)."""
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        f.write(format_vtt(utterances, predictions))
    return os.fspath(path)

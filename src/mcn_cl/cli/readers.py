# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Conversation readers of the command line: a conversation JSON file and a folder of clips with a CSV.

Conversation JSON (`--conversation`): a list of utterance dicts (`text`, `speaker`, `audio`, `video`, `start`, `end`;
the processor's format), a dict with such a list under `utterances` (with an optional `dialogue_id`), a list of such
dicts (several conversations), or the `manifest.json` of the demo corpus (`mcn_cl.demo`); `dialogue` picks one
conversation by its `dialogue_id`. `audio_path` / `video_path` (the loaders' names) work as `audio` / `video`.
Relative media paths are relative to the JSON file's folder.

Clip folder (`--clips DIR`): a CSV (`--csv`, default `DIR/conversation.csv`), one row per utterance in the
conversation's order, with the columns

    clip         video file of the utterance, relative to DIR (its audio track is the utterance's audio)
    speaker      speaker name (optional)
    text         transcript of the utterance (optional)
    audio        separate audio file, relative to DIR (optional; default: the clip's audio track)
    start, end   window in seconds inside the clip (optional; default: the whole clip)
    dialogue_id  rows with the same id form one conversation (optional; default: one conversation)

Empty cells are missing values; every row needs at least a clip, an audio file or a text.

Standard library only: imported when the command line starts.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from typing import Any

from .common import CLIError

CSV_COLUMNS = ("clip", "speaker", "text", "audio", "start", "end", "dialogue_id")
_MEDIA_KEYS = ("audio", "video", "audio_path", "video_path")


def _resolve_media(utterance: Mapping[str, Any], folder: str) -> dict[str, Any]:
    out = dict(utterance)
    for key in _MEDIA_KEYS:
        value = out.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            out[key] = os.path.join(folder, value)
    return out


def _dialogue(value: Any, index: int, folder: str) -> dict[str, Any]:
    if isinstance(value, Mapping) and isinstance(value.get("utterances"), list):
        utterances, dialogue_id = value["utterances"], value.get("dialogue_id")
    elif isinstance(value, list) and all(isinstance(u, Mapping) for u in value):
        utterances, dialogue_id = value, None
    else:
        raise CLIError(
            f"conversation {index}: expected a list of utterance dicts or a dict with 'utterances'"
        )
    for i, u in enumerate(utterances):
        if not isinstance(u, Mapping):
            raise CLIError(
                f"conversation {index}, utterance {i}: expected a JSON object, got {type(u).__name__}"
            )
    return {
        "dialogue_id": str(dialogue_id) if dialogue_id is not None else str(index),
        "utterances": [_resolve_media(u, folder) for u in utterances],
    }


def _unreadable(path: str, err: OSError | UnicodeDecodeError) -> CLIError:
    """The error of an input file that cannot be opened or is not UTF-8 text (naming the first bad byte)."""
    if isinstance(err, UnicodeDecodeError):
        return CLIError(f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start})")
    return CLIError(f"{path}: cannot be read ({err.strerror or err})")


def read_conversation_json(
    path: str | os.PathLike, dialogue: str | None = None, text: str | None = None
) -> list[dict[str, Any]]:
    """The conversations of a JSON file (see the module docstring), as `{"dialogue_id", "utterances"}` dicts with
    media paths made relative to the file's folder; `dialogue` keeps only the one with that id. `text`: the
    file's content as already read (`stream --follow` reads it once per look), instead of opening `path`."""
    path = os.fspath(path)
    try:
        if text is not None:
            data = json.loads(text)
        else:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
    except FileNotFoundError as err:
        raise CLIError(f"{path}: no such file") from err
    except IsADirectoryError as err:
        raise CLIError(f"{path}: is a folder, not a JSON file") from err
    except (OSError, UnicodeDecodeError) as err:
        raise _unreadable(path, err) from err
    except json.JSONDecodeError as err:
        raise CLIError(f"{path}: not valid JSON ({err})") from err
    except RecursionError as err:  # arrays / objects nested thousands deep
        raise CLIError(f"{path}: JSON nested too deeply to be a conversation") from err
    folder = os.path.dirname(os.path.abspath(path))
    if isinstance(data, Mapping) and isinstance(data.get("splits"), Mapping):  # the demo corpus manifest
        items = [d for split in data["splits"].values() for d in split]
    elif isinstance(data, list) and data and all(isinstance(d, Mapping) and "utterances" in d for d in data):
        items = data
    else:
        items = [data]
    conversations = [_dialogue(item, i, folder) for i, item in enumerate(items)]
    if dialogue is not None:
        conversations = [c for c in conversations if c["dialogue_id"] == dialogue]
        if not conversations:
            ids = ", ".join(str(c.get("dialogue_id")) for c in items if isinstance(c, Mapping))
            raise CLIError(f"{path}: no conversation with dialogue_id {dialogue!r} (ids: {ids or 'none'})")
    return conversations


def _optional_float(value: str, where: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError as err:
        raise CLIError(f"{where}: not a number: {value!r}") from err


def read_clips_csv(
    folder: str | os.PathLike, csv_path: str | os.PathLike | None = None, text: str | None = None
) -> list[dict[str, Any]]:
    """The conversations of a folder of clips described by a CSV (columns in the module docstring). `text`: the
    CSV's content as already read (`stream --follow` passes its complete lines only), instead of opening it."""
    folder = os.path.abspath(os.fspath(folder))
    if not os.path.isdir(folder):
        raise CLIError(f"{folder}: no such folder")
    csv_path = os.fspath(csv_path) if csv_path is not None else os.path.join(folder, "conversation.csv")
    if text is None and not os.path.isfile(csv_path):
        raise CLIError(f"{csv_path}: no such file (give the utterance table with --csv)")
    try:
        with (
            open(csv_path, encoding="utf-8-sig", newline="")
            if text is None
            else io.StringIO(text.removeprefix("\ufeff"), newline="")
        ) as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in reader.fieldnames or []]
            unknown = sorted(set(columns) - set(CSV_COLUMNS))
            if unknown or not {"clip", "audio", "text"} & set(columns):
                raise CLIError(
                    f"{csv_path}: columns {columns}; expected some of {list(CSV_COLUMNS)} "
                    f"(unknown: {unknown}; at least one of clip, audio, text)"
                )
            rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except (OSError, UnicodeDecodeError) as err:
        raise _unreadable(csv_path, err) from err
    except csv.Error as err:
        raise CLIError(f"{csv_path}: not a valid CSV ({err})") from err
    conversations: dict[str, list[dict[str, Any]]] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{csv_path}, line {line}"
        if not (row.get("clip") or row.get("audio") or row.get("text")):
            raise CLIError(f"{where}: the row has no clip, audio or text")
        utterance: dict[str, Any] = {"speaker": row.get("speaker") or None, "text": row.get("text") or None}
        clip = row.get("clip")
        if clip:
            utterance["video"] = os.path.join(folder, clip)
        audio = row.get("audio") or clip
        if audio:
            utterance["audio"] = os.path.join(folder, audio)
        for key in ("start", "end"):
            value = _optional_float(row.get(key), f"{where}, column {key}")
            if value is not None:
                utterance[key] = value
        conversations.setdefault(row.get("dialogue_id") or "0", []).append(utterance)
    if not conversations:
        raise CLIError(f"{csv_path}: no utterance rows")
    return [{"dialogue_id": d, "utterances": u} for d, u in conversations.items()]


__all__ = ["CSV_COLUMNS", "read_clips_csv", "read_conversation_json"]

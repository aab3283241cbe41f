# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Your own labelled conversations (a folder of clips with a CSV or JSON Lines table) as a `datasets.DatasetDict`.

The layout is the one `mcn-cl predict --clips` reads, plus a `label` and an optional `split` column:

    my_corpus/
        conversation.csv          one row per utterance, in conversation order (or conversation.jsonl)
        clips/d1_0.mp4 ...        media, paths relative to the table's folder (absolute paths work too)

or one table per split: `train.csv`, `validation.csv`, `test.csv` (or `.jsonl`; `validation` is optional).

Columns (JSON Lines: the same keys, one JSON object per line):

    dialogue_id   rows with the same id form one conversation (required)
    speaker       speaker name (required; may be empty)
    text          transcript (optional column)
    clip          video file of the utterance; its audio track is the utterance's audio (optional column)
    audio         separate audio file (optional column; default: the clip's audio track)
    start, end    window in seconds inside the clip / audio file (optional columns; default: the whole file)
    label         the emotion, as a word (required; an empty cell is an unlabelled context utterance)
    split         train / validation / test (optional; `dev` and `val` mean validation)
    utterance_id  optional; default `<dialogue_id>_<k>` (k = position in the dialogue)

Each row needs a text, a clip or an audio file. Without a validation split, a seeded share of the training
*dialogues* (`validation_share`, whole dialogues only) becomes the validation split. Label names come from the data
(sorted) unless `labels` fixes their order (and the set of allowed labels).

Errors (:class:`DatasetFormatError`, a `ValueError`, naming file:line and the column): an unknown column, a missing
required column, an unknown label (the known ones are named), a dialogue spread over two splits, a duplicated
utterance (the same `utterance_id`, or the same clip / audio and window twice in one dialogue), a `start` / `end`
that is not a finite number >= 0 or a window that ends before it starts. A clip or audio file that is missing or
cannot be opened (PyAV) is masked (null path; the utterance keeps its row and its other modalities), and one warning
lists them (`mcn-cl data-stats FOLDER --list-missing` prints them all).

Nothing is written into the folder: the Arrow cache goes to the `datasets` cache (or `cache_dir`).

    >>> from mcn_cl import load_conversations
    >>> ds = load_conversations("my_corpus")                          # labels sorted from the data
    >>> ds = load_conversations("my_corpus", labels=["neutral", "happy", "angry"])
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import os
from collections.abc import Sequence
from typing import Any

from datasets import DatasetDict
from transformers.utils import logging

from ._common import (
    DatasetFormatError,
    build_dataset_dict,
    dialogue_features,
    path_signature,
    split_validation,
    warn_masked_media,
)

logger = logging.get_logger(__name__)

SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {
    "train": "train",
    "validation": "validation",
    "dev": "validation",
    "val": "validation",
    "test": "test",
}
REQUIRED_COLUMNS = ("dialogue_id", "speaker", "label")
MEDIA_OR_TEXT = ("text", "clip", "audio")
COLUMNS = (
    "dialogue_id",
    "utterance_id",
    "speaker",
    "text",
    "clip",
    "audio",
    "start",
    "end",
    "label",
    "split",
)
TABLE = "conversation"
EXTENSIONS = (".csv", ".jsonl")


def find_tables(data_dir: str) -> dict[str | None, str]:
    """The annotation tables of a corpus folder: `{None: path}` for one table (split column optional), or
    `{split: path}` for one table per split. `data_dir` may also be one table file."""
    if os.path.isfile(data_dir):
        if not data_dir.endswith(EXTENSIONS):
            raise DatasetFormatError(f"{data_dir}: a conversation table must be a .csv or .jsonl file")
        return {None: data_dir}
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"{data_dir}: no such folder")
    single = [os.path.join(data_dir, TABLE + ext) for ext in EXTENSIONS]
    single = [p for p in single if os.path.isfile(p)]
    per_split = {
        split: os.path.join(data_dir, split + ext)
        for split in SPLITS
        for ext in EXTENSIONS
        if os.path.isfile(os.path.join(data_dir, split + ext))
    }
    found = single + list(per_split.values())
    doubled = [s for s in SPLITS if all(os.path.isfile(os.path.join(data_dir, s + e)) for e in EXTENSIONS)]
    if len(single) > 1 or doubled or (single and per_split):
        raise DatasetFormatError(
            f"{data_dir}: several conversation tables ({', '.join(os.path.basename(p) for p in found)}); keep "
            f"either {TABLE}.csv / {TABLE}.jsonl (with a split column) or one train / validation / test table each"
        )
    if single:
        return {None: single[0]}
    if not per_split:
        raise DatasetFormatError(
            f"{data_dir}: no conversation table (expected {TABLE}.csv or {TABLE}.jsonl, or train.csv / "
            "validation.csv / test.csv)"
        )
    if "train" not in per_split:
        raise DatasetFormatError(
            f"{data_dir}: per-split tables {sorted(per_split.values())} but no train table"
        )
    return per_split


def is_conversation_folder(path: str) -> bool:
    """Whether `path` is a conversation table or a folder holding one (for `mcn-cl data-stats` detection)."""
    if os.path.isfile(path):
        return path.endswith(EXTENSIONS) and os.path.basename(path).rsplit(".", 1)[0] in (TABLE, *SPLITS)
    names = [TABLE, *SPLITS]
    return any(os.path.isfile(os.path.join(path, n + e)) for n in names for e in EXTENSIONS)


def _check_columns(path: str, columns: Sequence[str], where: str) -> None:
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        hints = []
        for c in unknown:
            close = difflib.get_close_matches(c, COLUMNS, n=1)
            hints.append(f"{c!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise DatasetFormatError(
            f"{where}: unknown column(s) {', '.join(hints)}; the columns are {list(COLUMNS)}"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise DatasetFormatError(f"{where}: missing required column(s) {missing} (columns: {list(columns)})")
    if not set(MEDIA_OR_TEXT) & set(columns):
        raise DatasetFormatError(f"{where}: needs at least one of the columns {list(MEDIA_OR_TEXT)}")


def _read_csv(path: str) -> list[tuple[int, dict[str, str]]]:
    """`(line, row)` pairs; cells stripped, empty cells absent."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            content = f.read()
    except UnicodeDecodeError as err:
        raise DatasetFormatError(
            f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start})"
        ) from err
    reader = csv.DictReader(io.StringIO(content, newline=""))
    try:
        columns = [(c or "").strip() for c in reader.fieldnames or []]
        _check_columns(path, columns, f"{path}:1")
        rows = []
        start = 2
        for raw in reader:
            if None in raw:
                raise DatasetFormatError(f"{path}:{start}: more cells than columns ({len(columns)})")
            row = {
                k.strip(): v.strip() for k, v in raw.items() if k is not None and v is not None and v.strip()
            }
            if row:  # blank lines are skipped
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as err:
        raise DatasetFormatError(f"{path}:{reader.line_num}: not a valid CSV ({err})") from err
    return rows


def _read_jsonl(path: str) -> list[tuple[int, dict[str, str]]]:
    rows = []
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().split("\n")
    except UnicodeDecodeError as err:
        raise DatasetFormatError(
            f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start})"
        ) from err
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetFormatError(f"{path}:{lineno}: not a JSON object ({err.msg})") from err
        if not isinstance(value, dict):
            raise DatasetFormatError(f"{path}:{lineno}: expected a JSON object, got {type(value).__name__}")
        _check_columns(path, list(value), f"{path}:{lineno}")
        row = {}
        for key, cell in value.items():
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                continue
            if isinstance(cell, dict | list):
                raise DatasetFormatError(
                    f"{path}:{lineno}, column {key}: expected a string or number, got {cell!r}"
                )
            if isinstance(cell, str):
                cell = cell.strip()
            elif key not in ("start", "end"):
                cell = str(cell)
            row[key] = cell
        rows.append((lineno, row))
    return rows


def _seconds(value: Any, where: str, column: str) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise DatasetFormatError(f"{where}, column {column}: not a number: {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise DatasetFormatError(f"{where}, column {column}: must be a finite number >= 0, got {value!r}")
    return seconds


def _media_path(value: str | None, folder: str) -> str | None:
    if not value:
        return None
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(folder, value))


def parse_tables(tables: dict[str | None, str]) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Parse and check the tables: `({split: [dialogue rows with label *names*]}, labels seen)`.

    Dialogues keep the order of their first row, utterances the order of their rows."""
    dialogues: dict[str, dict[str, Any]] = {}  # id -> {"split", "where", "utterances", "keys"}
    labels_seen: set[str] = set()
    for table_split, path in tables.items():
        folder = os.path.dirname(os.path.abspath(path))
        rows = _read_jsonl(path) if path.endswith(".jsonl") else _read_csv(path)
        if not rows:
            raise DatasetFormatError(f"{path}: no utterance rows")
        for lineno, row in rows:
            where = f"{path}:{lineno}"
            dialogue_id = row.get("dialogue_id")
            if dialogue_id is None:
                raise DatasetFormatError(f"{where}, column dialogue_id: empty (every row names its dialogue)")
            dialogue_id = str(dialogue_id)
            split = table_split
            if "split" in row:
                given = SPLIT_ALIASES.get(str(row["split"]).lower())
                if given is None:
                    raise DatasetFormatError(
                        f"{where}, column split: {row['split']!r} is not one of train / validation / test"
                    )
                if table_split is not None and given != table_split:
                    raise DatasetFormatError(
                        f"{where}, column split: {row['split']!r} in the {table_split} table"
                    )
                split = given
            split = split or "train"
            if not any(row.get(c) for c in MEDIA_OR_TEXT):
                raise DatasetFormatError(f"{where}: the row has no text, clip or audio")
            dialogue = dialogues.setdefault(
                dialogue_id, {"split": split, "where": where, "utterances": [], "ids": {}, "media": {}}
            )
            if dialogue["split"] != split:
                raise DatasetFormatError(
                    f"{where}, column split: dialogue {dialogue_id!r} is in {split} here but in "
                    f"{dialogue['split']} at {dialogue['where']} (a dialogue belongs to one split)"
                )
            start = _seconds(row.get("start"), where, "start")
            end = _seconds(row.get("end"), where, "end")
            if start is not None and end is not None and end <= start:
                raise DatasetFormatError(
                    f"{where}, columns start/end: the window ends ({end}) before it starts ({start})"
                )
            position = len(dialogue["utterances"])
            utterance_id = str(row.get("utterance_id") or f"{dialogue_id}_{position}")
            if utterance_id in dialogue["ids"]:
                raise DatasetFormatError(
                    f"{where}, column utterance_id: duplicated utterance {utterance_id!r} of dialogue "
                    f"{dialogue_id!r} (first at {dialogue['ids'][utterance_id]})"
                )
            dialogue["ids"][utterance_id] = where
            clip = _media_path(row.get("clip"), folder)
            audio = _media_path(row.get("audio"), folder)
            if clip or audio:
                media_key = (clip, audio, start, end)
                if media_key in dialogue["media"]:
                    column = "clip" if clip else "audio"
                    raise DatasetFormatError(
                        f"{where}, column {column}: duplicated utterance row: {row.get(column)!r}"
                        f"{'' if start is None and end is None else f' [{start}, {end}]'} appears twice in "
                        f"dialogue {dialogue_id!r} (first at {dialogue['media'][media_key]})"
                    )
                dialogue["media"][media_key] = where
            label = row.get("label")
            label = None if label is None else str(label)
            if label is not None:
                labels_seen.add(label)
            dialogue["utterances"].append(
                {
                    "utterance_id": utterance_id,
                    "text": str(row["text"]) if row.get("text") is not None else None,
                    "speaker": str(row.get("speaker") or ""),
                    "label": label,
                    "start": start,
                    "end": end,
                    "audio_path": audio or clip,
                    "video_path": clip,
                    "_where": where,
                }
            )
    splits: dict[str, list[dict[str, Any]]] = {}
    for dialogue_id, d in dialogues.items():
        splits.setdefault(d["split"], []).append({"dialogue_id": dialogue_id, "utterances": d["utterances"]})
    return splits, sorted(labels_seen)


def _probe(path: str, max_seconds: float, need: str) -> str | None:
    """The problem of a media file for `need` ("audio" / "video"), or None when it is usable."""
    from .meld import probe_clip

    problem, _, has_audio, has_video = probe_clip(path, max_seconds)
    if problem is not None:
        return problem
    if need == "audio" and not has_audio:
        return "no audio stream"
    if need == "video" and not has_video:
        return "no video stream"
    return None


def load_conversations(
    data_dir: str | os.PathLike,
    labels: Sequence[str] | None = None,
    validation_share: float = 0.1,
    seed: int = 0,
    check_media: bool = True,
    max_clip_seconds: float = 600.0,
    cache_dir: str | os.PathLike | None = None,
) -> DatasetDict:
    """Load a folder of labelled conversations (the layout of the module docstring) as a `DatasetDict`.

    Args:
        data_dir: the corpus folder (or one `.csv` / `.jsonl` table).
        labels: the label names in class-id order; every label in the data must be one of them. Default: the
            labels found in the data, sorted.
        validation_share: share of the training dialogues (whole dialogues, seeded) that becomes the validation
            split when the data has none.
        seed: seed of that choice.
        check_media: open every clip / audio file with PyAV and mask the missing or unreadable ones (False: paths
            are kept as given, unchecked).
        max_clip_seconds: a file longer than this is masked as absurd.
        cache_dir: `datasets` cache folder for the Arrow files (default: the `datasets` cache; never `data_dir`).

    Returns:
        `DatasetDict` with `train`, `validation` and, when the data has one, `test`; one row per dialogue
        (`{"dialogue_id", "utterances": [{utterance_id, text, speaker, label, start, end, audio_path,
        video_path}]}`), as `load_iemocap` / `load_meld` return.
    """
    data_dir = os.fspath(data_dir)
    tables = find_tables(data_dir)
    splits, seen = parse_tables(tables)
    if labels is not None:
        names = [str(n).strip() for n in labels]
        if not names or any(not n for n in names) or len(set(names)) != len(names):
            raise DatasetFormatError(f"labels must be distinct non-empty names, got {list(labels)}")
    else:
        names = seen
    if not names:
        raise DatasetFormatError(f"{data_dir}: no labelled utterance (every label cell is empty)")
    label_id = {n: i for i, n in enumerate(names)}
    for rows in splits.values():
        for row in rows:
            for u in row["utterances"]:
                where = u.pop("_where")
                if u["label"] is None:
                    u["label"] = -1
                    continue
                if u["label"] not in label_id:
                    close = difflib.get_close_matches(u["label"], names, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise DatasetFormatError(
                        f"{where}, column label: {u['label']!r} is not one of the labels {names}{hint}"
                    )
                u["label"] = label_id[u["label"]]
    if "train" not in splits:
        raise DatasetFormatError(
            f"{data_dir}: no training dialogues (split column: every row is {sorted(splits)})"
        )
    if "validation" not in splits:
        train_ids, validation_ids = split_validation(
            [r["dialogue_id"] for r in splits["train"]], validation_share, seed
        )
        if not validation_ids:
            raise DatasetFormatError(
                f"{data_dir}: no validation split and too few training dialogues ({len(train_ids)}) to take a "
                f"{validation_share:g} share of them"
            )
        held_out = set(validation_ids)
        rows = splits.pop("train")
        splits["train"] = [r for r in rows if r["dialogue_id"] not in held_out]
        splits["validation"] = [r for r in rows if r["dialogue_id"] in held_out]
        logger.info(
            f"conversations {data_dir}: no validation split; {len(held_out)} of {len(rows)} training dialogues "
            f"(seed {seed}) are the validation split"
        )
    splits = {s: splits[s] for s in SPLITS if s in splits}

    problems = []
    if check_media:
        for split, rows in splits.items():
            for row in rows:
                for u in row["utterances"]:
                    clip, audio = u["video_path"], u["audio_path"]
                    checked = {}
                    for modality, path in (("video", clip), ("audio", audio)):
                        if path is None:
                            continue
                        if (path, modality) not in checked:
                            checked[(path, modality)] = _probe(path, max_clip_seconds, modality)
                        problem = checked[(path, modality)]
                        if problem is not None:
                            u[f"{modality}_path"] = None
                            problems.append((split, [modality], f"{u['utterance_id']} ({problem}): {path}"))
    merged: dict[tuple[str, str], tuple[str, list[str], str]] = {}
    for split, modalities, description in problems:  # one problem per file: a clip masks audio and video
        key = (split, description)
        merged.setdefault(key, (split, [], description))[1].extend(modalities)
    dataset = build_dataset_dict(
        splits,
        dialogue_features(names),
        fingerprint_parts=[
            "conversations",
            {s: path_signature(p) for s, p in tables.items() if s is not None}
            or path_signature(tables[None]),
            check_media,
            max_clip_seconds,
        ],
        cache_dir=cache_dir,
    )
    warn_masked_media("conversations", data_dir, list(merged.values()))
    return dataset


__all__ = ["find_tables", "is_conversation_folder", "load_conversations", "parse_tables"]

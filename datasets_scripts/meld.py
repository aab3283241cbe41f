# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MELD (the `MELD.Raw` folder, or the annotation CSVs alone) as a `datasets.DatasetDict`, one row per dialogue.

Read: ``train_sent_emo.csv``, ``dev_sent_emo.csv``, ``test_sent_emo.csv`` (in ``data_dir`` or ``csv_dir``) and
the clip folders ``train_splits/`` (or ``train/``), ``dev_splits_complete/`` (or ``dev/``),
``output_repeated_splits_test/`` (or ``test/``). A clip path is built from the CSV as
``dia{Dialogue_ID}_utt{Utterance_ID}.mp4``; folders are never globbed. The clip serves as both `audio_path` and
`video_path`; `start` is 0 and `end` the clip length in seconds when the clip was probed, else null.

Text: the CSVs inside the MELD.Raw archive carry cp1252 bytes as C1 control characters (U+0092 for ’ ...); they
are repaired (see :func:`repair_text`) so that archive and GitHub copies give the same texts.

Media: with ``check_media=True`` every clip is opened with PyAV (in the cached generator). A clip that is
missing, cannot be opened, has no stream, or is longer than ``max_clip_seconds`` keeps its utterance with the
medium masked (null path); all of them are listed in one warning. Known in the release: dev ``dia110_utt7``
(missing) and train ``dia125_utt3`` (corrupt).

Caching: ``Dataset.from_generator`` with an explicit fingerprint (see ``_common.py`` for why); the media probing
runs inside the generator so it is cached with the split.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
from typing import Any

from datasets import DatasetDict
from transformers.utils import logging

from ._common import (
    DatasetFormatError,
    build_dataset_dict,
    dialogue_features,
    path_signature,
    read_text_lenient,
    warn_masked_media,
)

logger = logging.get_logger(__name__)

MELD_EMOTIONS = ("neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger")
MELD_SENTIMENTS = ("negative", "neutral", "positive")
MELD_CONFIGS = {"emotion": ("Emotion", MELD_EMOTIONS), "sentiment": ("Sentiment", MELD_SENTIMENTS)}
REQUIRED_COLUMNS = ("Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")
# output split name -> (CSV file, clip folders in order of preference)
MELD_SPLITS = {
    "train": ("train_sent_emo.csv", ("train_splits", os.path.join("train", "train_splits"), "train")),
    "validation": (
        "dev_sent_emo.csv",
        ("dev_splits_complete", os.path.join("dev", "dev_splits_complete"), "dev"),
    ),
    "test": (
        "test_sent_emo.csv",
        ("output_repeated_splits_test", os.path.join("test", "output_repeated_splits_test"), "test"),
    ),
}

# A UTF-8 lead byte read as latin-1/cp1252, followed by a continuation byte read the same way.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]"
)
_C1 = re.compile("[\u0080-\u009f]")


def _c1_to_cp1252(match: re.Match) -> str:
    try:
        return match.group(0).encode("latin-1").decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are undefined in cp1252: keep them
        return match.group(0)


def repair_text(text: str) -> str:
    """Undo the encoding damage found in MELD texts.

    1. Real mojibake (UTF-8 bytes decoded as latin-1 or cp1252, e.g. ``"itâ€™s"``) is re-decoded as UTF-8
       when the whole string round-trips strictly.
    2. Characters U+0080..U+009F (cp1252 bytes stored as C1 controls, e.g. U+0092) are encoded as their
       latin-1 byte and decoded as cp1252 (U+0092 -> ’, U+0085 -> …, U+0097 -> —).
    """
    if _MOJIBAKE.search(text):
        for enc in ("cp1252", "latin-1"):
            try:
                fixed = text.encode(enc).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            text = fixed
            break
        else:
            # mixed cp1252/latin-1 mojibake: map C1 chars first, then retry cp1252
            try:
                text = _C1.sub(_c1_to_cp1252, text).encode("cp1252").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass
    return _C1.sub(_c1_to_cp1252, text)


def _read_csv(path: str) -> list[tuple[int, dict[str, str]]]:
    """`(line number, row)` pairs of a MELD CSV; validates the header."""
    content = read_text_lenient(path, "MELD")
    # not str.splitlines(): it also breaks on U+0085 (NEL), one of the C1 characters to repair
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DatasetFormatError(f"{path}:1: missing column(s) {missing} (header: {header})")
    rows = []
    for row in reader:
        # line_num is the physical line where the record ends (records may span lines)
        rows.append((reader.line_num, row))
    return rows


def _find_clip_dir(data_dir: str | None, candidates: tuple[str, ...]) -> str | None:
    if data_dir is None:
        return None
    for rel in candidates:
        path = os.path.join(data_dir, rel)
        if os.path.isdir(path):
            return path
    return None


def parse_meld_split(
    csv_path: str, label_column: str, label_names: tuple[str, ...], clip_dir: str | None
) -> list[dict[str, Any]]:
    """Rows (docs/data_formats.md, section 1) of one MELD CSV, dialogues and utterances in numeric id order.

    Media paths are the expected clip paths under `clip_dir` (not checked here), or null without a folder.
    """
    label_id = {n: i for i, n in enumerate(label_names)}
    dialogues: dict[int, dict[int, dict[str, Any]]] = {}
    seen: dict[tuple[int, int], int] = {}
    for lineno, row in _read_csv(csv_path):
        where = f"{csv_path}:{lineno}"
        try:
            dia, utt = int(row["Dialogue_ID"]), int(row["Utterance_ID"])
        except (TypeError, ValueError):
            raise DatasetFormatError(
                f"{where}: Dialogue_ID/Utterance_ID must be integers, got "
                f"{row['Dialogue_ID']!r}/{row['Utterance_ID']!r}"
            ) from None
        if (dia, utt) in seen:
            raise DatasetFormatError(
                f"{where}: duplicate utterance id dia{dia}_utt{utt} (first at line {seen[(dia, utt)]})"
            )
        seen[(dia, utt)] = lineno
        code = (row[label_column] or "").strip().lower()
        if code not in label_id:
            raise DatasetFormatError(
                f"{where}: {label_column} {row[label_column]!r} is not one of {list(label_names)}"
            )
        clip = os.path.join(clip_dir, f"dia{dia}_utt{utt}.mp4") if clip_dir else None
        dialogues.setdefault(dia, {})[utt] = {
            "utterance_id": f"dia{dia}_utt{utt}",
            "text": repair_text(row["Utterance"] or "").strip(),
            "speaker": repair_text(row["Speaker"] or "").strip(),
            "label": label_id[code],
            "start": None,
            "end": None,
            "audio_path": clip,
            "video_path": clip,
        }
    return [
        {"dialogue_id": f"dia{dia}", "utterances": [utts[u] for u in sorted(utts)]}
        for dia, utts in sorted(dialogues.items())
    ]


def probe_clip(path: str, max_seconds: float) -> tuple[str | None, float | None, bool, bool]:
    """Open a clip with PyAV: `(problem or None, duration s, has_audio, has_video)`."""
    import av

    if not os.path.isfile(path):
        return "missing", None, False, False
    try:
        with av.open(path) as container:
            has_audio = len(container.streams.audio) > 0
            has_video = len(container.streams.video) > 0
            duration = None
            if container.duration is not None:
                duration = container.duration / av.time_base
            else:
                for stream in container.streams:
                    if stream.duration is not None and stream.time_base is not None:
                        d = float(stream.duration * stream.time_base)
                        duration = d if duration is None else max(duration, d)
    except Exception as e:  # PyAV raises several error types (InvalidDataError, OSError...)
        return f"corrupt: {type(e).__name__}: {e}", None, False, False
    if not (has_audio or has_video):
        return "corrupt: no audio or video stream", duration, False, False
    if duration is not None and duration > max_seconds:
        return f"too long: {duration:.1f} s > {max_seconds:g} s", duration, has_audio, has_video
    return None, duration, has_audio, has_video


def _probe_row(row: dict[str, Any], max_seconds: float) -> dict[str, Any]:
    """Generator transform: probe each clip of a dialogue row and mask the unusable media."""
    utterances = []
    for u in row["utterances"]:
        u = dict(u)
        if u["video_path"] is not None:
            problem, duration, has_audio, has_video = probe_clip(u["video_path"], max_seconds)
            if problem is None:
                u["start"], u["end"] = 0.0, duration
                u["audio_path"] = u["audio_path"] if has_audio else None
                u["video_path"] = u["video_path"] if has_video else None
            else:
                u["audio_path"] = u["video_path"] = None
        utterances.append(u)
    return {"dialogue_id": row["dialogue_id"], "utterances": utterances}


def load_meld(
    data_dir: str | os.PathLike | None = None,
    config: str = "emotion",
    csv_dir: str | os.PathLike | None = None,
    check_media: bool = True,
    max_clip_seconds: float = 60.0,
    cache_dir: str | os.PathLike | None = None,
) -> DatasetDict:
    """Load MELD as a `DatasetDict` with the official `train`, `validation` (dev) and `test` splits.

    Args:
        data_dir: the `MELD.Raw` folder (CSVs and/or clip folders). May be None when `csv_dir` is given.
        config: `"emotion"` (neutral, surprise, fear, sadness, joy, disgust, anger) or `"sentiment"`
            (negative, neutral, positive).
        csv_dir: folder of the three CSVs when they are not in `data_dir`.
        check_media: probe every clip with PyAV. False: annotations only, all media paths null.
        max_clip_seconds: clips longer than this are masked as absurd.
        cache_dir: `datasets` cache folder for the Arrow files.

    Returns:
        `DatasetDict`; each row `{"dialogue_id": "dia<D>", "utterances": [{utterance_id "dia<D>_utt<U>", text,
        speaker, label, start, end, audio_path, video_path}, ...]}`.
    """
    if config not in MELD_CONFIGS:
        raise ValueError(f"unknown MELD config {config!r}; expected one of {list(MELD_CONFIGS)}")
    if data_dir is None and csv_dir is None:
        raise ValueError("give data_dir (the MELD.Raw folder) and/or csv_dir (the folder of the CSVs)")
    label_column, names = MELD_CONFIGS[config]
    data_dir = os.fspath(data_dir) if data_dir is not None else None
    csv_root = os.fspath(csv_dir) if csv_dir is not None else data_dir

    clip_dirs = {
        split: (_find_clip_dir(data_dir, folders) if check_media else None)
        for split, (_, folders) in MELD_SPLITS.items()
    }
    if not check_media:
        logger.info("MELD: check_media=False: annotations only, all media paths are null")
    elif not any(clip_dirs.values()):
        logger.info(
            f"MELD: no clip folder found under {data_dir}: annotations only, all media paths are null"
        )
        check_media = False

    splits, folder_problems = {}, []
    for split, (csv_name, folders) in MELD_SPLITS.items():
        csv_path = os.path.join(csv_root, csv_name)
        if not os.path.isfile(csv_path):
            raise FileNotFoundError(f"MELD annotation file {csv_path} does not exist")
        splits[split] = parse_meld_split(csv_path, label_column, names, clip_dirs[split])
        if check_media and clip_dirs[split] is None:
            folder_problems.append(f"{split}: no clip folder ({' or '.join(folders)}) under {data_dir}")

    dataset = build_dataset_dict(
        splits,
        dialogue_features(names),
        fingerprint_parts=[
            "meld",
            config,
            check_media,
            max_clip_seconds,
            {s: path_signature(d) for s, d in clip_dirs.items()},
        ],
        cache_dir=cache_dir,
        transform=functools.partial(_probe_row, max_seconds=max_clip_seconds) if check_media else None,
    )
    if check_media:
        options = f"--config {config} --max-clip-seconds {max_clip_seconds:g}"
        options += f" --csv-dir {csv_root}" if csv_dir is not None else ""
        _warn_masked_media(dataset, splits, clip_dirs, folder_problems, max_clip_seconds, data_dir, options)
    return dataset


def _warn_masked_media(
    dataset: DatasetDict,
    parsed: dict[str, list[dict[str, Any]]],
    clip_dirs: dict[str, str | None],
    folder_problems: list[str],
    max_seconds: float,
    source: str | None,
    options: str,
) -> None:
    """One summarising warning on the clips that were expected but are masked (works on cache hits too)."""
    if folder_problems:
        logger.warning("MELD: " + "; ".join(folder_problems) + ": those splits have no media")
    problems = []
    for split, rows in parsed.items():
        if clip_dirs[split] is None:
            continue
        column = dataset[split]["utterances"]
        for before, after in zip(rows, column):
            for ub, ua in zip(before["utterances"], after):
                if ua["audio_path"] is not None and ua["video_path"] is not None:
                    continue
                problem, _, has_audio, has_video = probe_clip(ub["video_path"], max_seconds)
                if problem is None:
                    problem = "no audio stream" if not has_audio else "no video stream"
                masked = [m for m in ("audio", "video") if ua[f"{m}_path"] is None]
                problems.append((split, masked, f"{ub['utterance_id']} ({problem}): {ub['video_path']}"))
    warn_masked_media("MELD", source or "", problems, options)


__all__ = ["MELD_EMOTIONS", "MELD_SENTIMENTS", "load_meld", "parse_meld_split", "probe_clip", "repair_text"]

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""CMU-MOSI and CH-SIMS (utterance-level sentiment; MCIHN's corpora) as `datasets.DatasetDict`s, one row per
utterance, from the user's copies in the two layouts the MMSA toolkit distributes:

* the raw release (:func:`load_mmsa_raw`): ``label.csv`` with the columns ``video_id, clip_id, text, label, mode``
  (plus ``annotation``; SIMS also ``label_T, label_A, label_V``), ``mode`` in ``train / valid / test``, and the clips
  ``Raw/<video_id>/<clip_id>.mp4``. Rows: ``id`` (``"<video_id>$_$<clip_id>"``, MMSA's id), ``video_id``,
  ``clip_id``, ``text``, ``label`` (float32 score: MOSI [-3, 3], SIMS [-1, 1]), ``audio_path`` / ``video_path``
  (the clip; null when it is missing or unreadable, listed in one warning). Media are decoded by the processor.
* the processed feature pickles (:func:`load_mmsa_features`; ``unaligned_50.pkl`` / ``aligned_50.pkl`` /
  ``unaligned_39.pkl``): a dict ``{"train", "valid", "test"}`` of dicts of arrays over N utterances: ``id``,
  ``raw_text``, ``regression_labels`` [N], ``text_bert`` [N, 3, T] (token ids, attention mask, segment ids),
  ``text`` [N, T, D_t] (BERT states), ``audio`` [N, T_a, D_a], ``vision`` [N, T_v, D_v], and in the unaligned files
  ``audio_lengths`` / ``vision_lengths`` [N]. Read with the package's restricted unpickler. Rows: ``id``, ``text``,
  ``label``, ``input_ids`` / ``attention_mask`` (the valid tokens of ``text_bert``), ``text_features`` [T_i, D_t]
  (when the file has ``text``), ``audio_features`` [T_a_i, D_a], ``visual_features`` [T_v_i, D_v] (cut to their
  lengths), ``modality_mask`` [3] (0 for a modality with no frame: it holds one zero frame then). Non-finite
  feature values (MOSI's COVAREP holds -inf) are set to 0, as MMSA does, and counted in a log message.

Splits: ``train`` / ``validation`` (MMSA's ``valid``) / ``test``. Caching: ``Dataset.from_generator`` with a
fingerprint of the parsed rows (raw) or of the file's path, size and mtime (pickles); see ``_common.py``.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from datasets import Array2D, Dataset, DatasetDict, Features, List, Value
from transformers.utils import logging

from ._common import (
    DatasetFormatError,
    build_dataset_dict,
    find_child_case_insensitive,
    path_signature,
    read_text_lenient,
)
from .feature_pickles import feature_sizes, safe_load_pickle
from .meld import probe_clip

logger = logging.get_logger(__name__)

# dataset -> range of the sentiment scores
MMSA_DATASETS = {"mosi": (-3.0, 3.0), "sims": (-1.0, 1.0)}
MMSA_SPLITS = {"train": "train", "valid": "validation", "test": "test"}
REQUIRED_COLUMNS = ("video_id", "clip_id", "text", "label", "mode")
SIMS_UNIMODAL_COLUMNS = {"label_T": "label_text", "label_A": "label_audio", "label_V": "label_visual"}
_SEQUENCE_FIELDS = {"text": "text_features", "audio": "audio_features", "vision": "visual_features"}


def mmsa_id(video_id: str, clip_id: str) -> str:
    """MMSA's utterance id: ``"<video_id>$_$<clip_id>"``."""
    return f"{video_id}$_${clip_id}"


def _dataset_name(dataset: str) -> str:
    """`dataset` lower-cased (``"MOSI"`` -> ``"mosi"``), checked against :data:`MMSA_DATASETS`."""
    name = dataset.lower() if isinstance(dataset, str) else dataset
    if name not in MMSA_DATASETS:
        raise ValueError(f"dataset must be one of {list(MMSA_DATASETS)} (any case), got {dataset!r}")
    return name


def _check_dataset(dataset: str) -> tuple[float, float]:
    return MMSA_DATASETS[_dataset_name(dataset)]


def _check_id(value: str, where: str, field: str) -> str:
    """A video / clip id is a path component under ``Raw/``: refuse one that leaves it (``..``, absolute, NUL)."""
    parts = value.replace("\\", "/").split("/")
    if "\0" in value or os.path.isabs(value) or value.startswith(("/", "\\")) or ".." in parts:
        raise DatasetFormatError(
            f"{where}: {field} {value!r} would resolve outside the Raw/ clip folder (absolute or with '..')"
        )
    return value


def _score(value: Any, where: str, field: str, bounds: tuple[float, float]) -> float:
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise DatasetFormatError(f"{where}: {field} {value!r} is not a number") from None
    if not math.isfinite(score) or not bounds[0] - 1e-6 <= score <= bounds[1] + 1e-6:
        raise DatasetFormatError(f"{where}: {field} {score} is outside the score range {list(bounds)}")
    return score


# ------------------------------------------------------------------------------------------------ raw release


def parse_label_csv(path: str, dataset: str, raw_dir: str | None) -> dict[str, list[dict[str, Any]]]:
    """Rows of ``label.csv`` by split (in file order), with the clip paths under `raw_dir` (not checked here)."""
    dataset = _dataset_name(dataset)
    bounds = _check_dataset(dataset)
    content = read_text_lenient(path, f"{dataset} label.csv")  # non-UTF-8 lines repaired, with a warning
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DatasetFormatError(f"{path}:1: missing column(s) {missing} (header: {header})")
    splits: dict[str, list[dict[str, Any]]] = {name: [] for name in MMSA_SPLITS.values()}
    seen: dict[str, int] = {}
    for row in reader:
        where = f"{path}:{reader.line_num}"
        video_id, clip_id = (row["video_id"] or "").strip(), (row["clip_id"] or "").strip()
        if not video_id or not clip_id:
            raise DatasetFormatError(f"{where}: empty video_id or clip_id")
        _check_id(video_id, where, "video_id")
        _check_id(clip_id, where, "clip_id")
        uid = mmsa_id(video_id, clip_id)
        if uid in seen:
            raise DatasetFormatError(f"{where}: duplicate utterance {uid} (first at line {seen[uid]})")
        seen[uid] = reader.line_num
        mode = (row["mode"] or "").strip().lower()
        if mode not in MMSA_SPLITS:
            raise DatasetFormatError(f"{where}: mode {row['mode']!r} is not one of {list(MMSA_SPLITS)}")
        clip = os.path.join(raw_dir, video_id, f"{clip_id}.mp4") if raw_dir else None
        out = {
            "id": uid,
            "video_id": video_id,
            "clip_id": clip_id,
            "text": (row["text"] or "").strip(),
            "label": _score(row["label"], where, "label", bounds),
            "audio_path": clip,
            "video_path": clip,
        }
        if dataset == "sims":
            for column, name in SIMS_UNIMODAL_COLUMNS.items():
                value = row.get(column)
                out[name] = _score(value, where, column, bounds) if value not in (None, "") else None
        splits[MMSA_SPLITS[mode]].append(out)
    if not seen:
        logger.warning(f"{path}: no utterance rows under the header: the {dataset} dataset is empty")
    else:
        empty = [name for name, rows in splits.items() if not rows]
        if empty:
            logger.warning(
                f"{path}: empty split(s) {empty} (no row with that mode): left out of the DatasetDict"
            )
    return {name: rows for name, rows in splits.items() if rows}


def load_mmsa_raw(
    data_dir: str | os.PathLike,
    dataset: str = "mosi",
    check_media: bool = True,
    max_clip_seconds: float = 60.0,
    cache_dir: str | os.PathLike | None = None,
) -> DatasetDict:
    """Load a raw MOSI / SIMS release (``label.csv`` + ``Raw/<video_id>/<clip_id>.mp4``) as a `DatasetDict`.

    Args:
        data_dir: the release folder (``label.csv`` and ``Raw/``).
        dataset: ``"mosi"`` or ``"sims"``, any case (score range and SIMS' unimodal labels).
        check_media: open every clip with PyAV; a missing, unreadable or too long clip keeps its utterance with
            null media paths, all listed in one warning. False: paths are built from the CSV, unchecked.
        max_clip_seconds: clips longer than this are masked (> 0).
        cache_dir: `datasets` cache folder for the Arrow files.

    Returns:
        `DatasetDict` (``train``, ``validation``, ``test``; a split with no row is left out, with a warning) of rows
        ``{id, video_id, clip_id, text, label, audio_path, video_path}`` (SIMS: plus ``label_text``,
        ``label_audio``, ``label_visual``).

    Raises:
        DatasetFormatError: a column, a mode, a score, a duplicate id, or a ``video_id`` / ``clip_id`` that would
            resolve outside ``Raw/`` (``..``, absolute), naming ``label.csv`` and the line. Lines that are not
            UTF-8 are read as cp1252 with a warning, as the MELD loader does.
    """
    dataset = _dataset_name(dataset)
    if not (
        isinstance(max_clip_seconds, (int, float))
        and math.isfinite(max_clip_seconds)
        and max_clip_seconds > 0
    ):
        raise ValueError(f"max_clip_seconds must be a positive number of seconds, got {max_clip_seconds!r}")
    data_dir = os.fspath(data_dir)
    csv_path = find_child_case_insensitive(data_dir, "label.csv")
    if csv_path is None:
        raise FileNotFoundError(f"{dataset}: no label.csv in {data_dir}")
    raw_dir = find_child_case_insensitive(data_dir, "Raw")
    if raw_dir is None:
        logger.warning(f"{dataset}: no Raw/ clip folder in {data_dir}: text only, media paths are null")
    splits = parse_label_csv(csv_path, dataset, raw_dir)
    if check_media and raw_dir is not None:
        problems = []
        for name, rows in splits.items():
            for row in rows:
                problem, _, has_audio, has_video = probe_clip(row["video_path"], max_clip_seconds)
                if problem is not None or not (has_audio and has_video):
                    problems.append(
                        f"{name} {row['id']} ({problem or 'missing a stream'}): {row['video_path']}"
                    )
                row["audio_path"] = row["audio_path"] if problem is None and has_audio else None
                row["video_path"] = row["video_path"] if problem is None and has_video else None
        if problems:
            logger.warning(
                f"{dataset}: {len(problems)} clip problem(s); the utterances are kept with the medium masked "
                "(null path):\n  " + "\n  ".join(problems)
            )
    spec = {
        "id": Value("string"),
        "video_id": Value("string"),
        "clip_id": Value("string"),
        "text": Value("string"),
        "label": Value("float32"),
        "audio_path": Value("string"),
        "video_path": Value("string"),
    }
    if dataset == "sims":
        spec.update({name: Value("float32") for name in SIMS_UNIMODAL_COLUMNS.values()})
    return build_dataset_dict(
        splits,
        Features(spec),
        fingerprint_parts=["mmsa_raw", dataset, check_media, max_clip_seconds, path_signature(raw_dir)],
        cache_dir=cache_dir,
    )


# -------------------------------------------------------------------------------------------- feature pickles


def _column(entry: Mapping[str, Any], key: str, n: int, where: str, dtype: Any = None) -> np.ndarray:
    """`entry[key]` as an array of `n` rows (of `dtype`), or a DatasetFormatError naming the field."""
    value = entry[key]
    if not isinstance(value, (np.ndarray, list, tuple)):
        raise DatasetFormatError(f"{where}: {key} is a {type(value).__name__}, not an array")
    try:
        value = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        kind = "numeric " if dtype is not None else ""
        raise DatasetFormatError(f"{where}: {key} is not a {kind}array ({err})") from None
    if value.shape[:1] != (n,):
        raise DatasetFormatError(f"{where}: {key} has {value.shape[:1]} rows for {n} regression_labels")
    return value


def _integers(values: np.ndarray, where: str, what: str, low: int = 0, high: int = 2**63 - 1) -> np.ndarray:
    """`values` (any numeric dtype) as int64 when every one is an integer in [low, high]; else an error naming the
    first offender (1e20 would otherwise wrap to INT64_MIN, 2.7 truncate to 2)."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        bad = (values < low) | (values > high)
    else:
        as_float = values.astype(np.float64)
        bad = (
            ~np.isfinite(as_float)
            | (as_float != np.round(as_float))
            | (as_float < low)
            | (as_float >= float(high))
        )
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DatasetFormatError(
            f"{where}: {what} {values[index]!r} at {list(index)} is not an integer in [{low}, {high}]"
        )
    return values.astype(np.int64)


def _parse_split(
    entry: Any, where: str, bounds: tuple[float, float]
) -> tuple[list[dict[str, Any]], dict, int, bool]:
    """Rows of one split of an MMSA pickle, the feature sizes, the number of non-finite values set to 0, and
    whether the split has token ids."""
    if not isinstance(entry, Mapping):
        raise DatasetFormatError(f"{where}: expected a dict of arrays, got {type(entry).__name__}")
    if "regression_labels" not in entry:
        raise DatasetFormatError(f"{where}: no regression_labels (keys: {sorted(map(str, entry))})")
    raw_labels = entry["regression_labels"]
    if not isinstance(raw_labels, (np.ndarray, list, tuple)):
        raise DatasetFormatError(f"{where}: regression_labels is a {type(raw_labels).__name__}, not an array")
    try:
        labels = np.asarray(raw_labels, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as err:
        raise DatasetFormatError(f"{where}: regression_labels is not a numeric array ({err})") from None
    n = labels.size
    ids = [str(x) for x in _column(entry, "id", n, where)] if "id" in entry else [f"{i}" for i in range(n)]
    texts = [str(x) for x in _column(entry, "raw_text", n, where)] if "raw_text" in entry else [""] * n
    sequences, sizes, non_finite = {}, {}, 0
    for key, name in _SEQUENCE_FIELDS.items():
        if key not in entry:
            continue
        array = _column(entry, key, n, where, np.float32)
        if array.ndim != 3:
            raise DatasetFormatError(f"{where}: {key} must be [N, frames, size], got {list(array.shape)}")
        bad = ~np.isfinite(array)
        non_finite += int(bad.sum())
        sequences[name] = np.where(bad, 0.0, array).astype(np.float32)
        sizes[name] = array.shape[2]
    lengths = {}
    for key, name in (("audio_lengths", "audio_features"), ("vision_lengths", "visual_features")):
        if key in entry and name in sequences:
            column = _column(entry, key, n, where, np.float64).reshape(-1)
            lengths[name] = _integers(column, where, f"{key} value")
    token_ids = token_mask = None
    if "text_bert" in entry:
        bert = _column(entry, "text_bert", n, where, np.float64)
        if bert.ndim != 3 or bert.shape[1] < 2:
            raise DatasetFormatError(f"{where}: text_bert must be [N, 3, T], got {list(bert.shape)}")
        token_ids = _integers(bert[:, 0], where, "text_bert token id")
        mask = bert[:, 1]
        if not np.isin(mask, (0.0, 1.0)).all():
            index = [int(i) for i in np.argwhere(~np.isin(mask, (0.0, 1.0)))[0]]
            raise DatasetFormatError(
                f"{where}: text_bert attention mask value {mask[tuple(index)]!r} at {index} is not 0 or 1"
            )
        token_mask = mask.astype(np.int64)
    rows = []
    for i in range(n):
        row_where = f"{where}, utterance {ids[i]!r}"
        row: dict[str, Any] = {
            "id": ids[i],
            "text": texts[i],
            "label": _score(labels[i], row_where, "label", bounds),
        }
        present = [0, 0, 0]
        if token_ids is not None:
            keep = token_mask[i] == 1
            row["input_ids"] = token_ids[i][keep].tolist()
            row["attention_mask"] = [1] * int(keep.sum())
            present[0] = int(keep.any())
        for modality, name in enumerate(("text_features", "audio_features", "visual_features")):
            if name not in sequences:
                continue
            array = sequences[name][i]
            if name in lengths:
                length = int(lengths[name][i])
            elif name == "text_features" and token_mask is not None:
                length = int(token_mask[i].sum())
            else:
                length = array.shape[0]
            if not 0 <= length <= array.shape[0]:
                raise DatasetFormatError(
                    f"{row_where}: length {length} of {name} outside 0..{array.shape[0]}"
                )
            present[modality] = int(length > 0) or present[modality]
            row[name] = array[:length] if length > 0 else np.zeros((1, array.shape[1]), np.float32)
        row["modality_mask"] = present
        rows.append(row)
    return rows, sizes, non_finite, token_ids is not None


def load_mmsa_features(
    path: str | os.PathLike,
    dataset: str = "mosi",
    cache_dir: str | os.PathLike | None = None,
    max_bytes: int | None = None,
) -> DatasetDict:
    """Load an MMSA processed feature pickle (``unaligned_50.pkl`` layout) as a `DatasetDict`.

    Args:
        path: the `.pkl` file.
        dataset: ``"mosi"`` or ``"sims"``, any case (score range of the labels).
        cache_dir: `datasets` cache folder for the Arrow files.
        max_bytes: memory budget of the unpickling (:func:`safe_load_pickle`); None = 128 MiB + 16 x the file size.

    Returns:
        `DatasetDict` (``train``, ``validation``, ``test``) of rows ``{id, text, label, input_ids, attention_mask,
        text_features, audio_features, visual_features, modality_mask}`` (the ones the file has); sizes with
        :func:`mmsa_feature_sizes`.

    Raises:
        UnsafePickleError: the pickle holds something a feature file never needs (see ``safe_pickle.py``).
        DatasetFormatError: a split, an array shape, a length or a label does not match the layout, a field is not
            numeric, a token id is not an integer in int64's range, a mask value is not 0/1; the message names the
            file, the split and the field. A split with no utterance is left out with a warning.
    """
    dataset = _dataset_name(dataset)
    bounds = _check_dataset(dataset)
    path = os.fspath(path)
    data = safe_load_pickle(path, max_bytes=max_bytes)
    if not isinstance(data, Mapping) or not any(split in data for split in MMSA_SPLITS):
        raise DatasetFormatError(
            f"{path}: expected a dict with the splits {list(MMSA_SPLITS)}, got "
            f"{sorted(data) if isinstance(data, Mapping) else type(data).__name__}"
        )
    splits, sizes, non_finite, has_tokens = {}, {}, 0, False
    for split, name in MMSA_SPLITS.items():
        if split not in data:
            continue
        rows, split_sizes, bad, tokens = _parse_split(data[split], f"{path} [{split}]", bounds)
        if not rows:
            logger.warning(f"{path} [{split}]: no utterances: the split is left out of the DatasetDict")
            continue
        has_tokens = has_tokens or tokens
        for key, size in split_sizes.items():
            if sizes.setdefault(key, size) != size:
                raise DatasetFormatError(
                    f"{path} [{split}]: {key} size {size} differs from {sizes[key]} in other splits"
                )
        splits[name], non_finite = rows, non_finite + bad
    if non_finite:
        logger.info(
            f"{path}: {non_finite} non-finite feature values (e.g. COVAREP -inf) set to 0, as MMSA does"
        )
    if not splits:
        raise DatasetFormatError(f"{path}: no split holds an utterance")
    for name, rows in splits.items():
        if any(("input_ids" in row) != has_tokens for row in rows):
            raise DatasetFormatError(f"{path} [{name}]: text_bert is in some splits only")
    spec: dict[str, Any] = {"id": Value("string"), "text": Value("string"), "label": Value("float32")}
    if has_tokens:
        spec["input_ids"] = List(Value("int64"))
        spec["attention_mask"] = List(Value("int64"))
    for key, size in sizes.items():
        spec[key] = Array2D(shape=(None, size), dtype="float32")
    spec["modality_mask"] = List(Value("int64"))
    features = Features(spec)
    return build_dataset_dict(
        splits,
        features,
        fingerprint_parts=["mmsa_features", dataset, path_signature(path)],
        cache_dir=cache_dir,
        row_key="id",
    )


def mmsa_feature_sizes(dataset: Dataset | DatasetDict) -> dict[str, int | None]:
    """``{"text": D_t, "audio": D_a, "visual": D_v}`` of an MMSA feature dataset (None when absent). Set
    `MCIHNConfig(audio_feature_size=..., visual_feature_size=...)` from it. The same `*_features` columns as the
    feature pickles of MCN-CL, so the same reading."""
    return feature_sizes(dataset)


__all__ = [
    "MMSA_DATASETS",
    "load_mmsa_features",
    "load_mmsa_raw",
    "mmsa_feature_sizes",
    "mmsa_id",
    "parse_label_csv",
]

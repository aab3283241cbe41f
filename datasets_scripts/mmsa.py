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


def _check_dataset(dataset: str) -> tuple[float, float]:
    if dataset not in MMSA_DATASETS:
        raise ValueError(f"dataset must be one of {list(MMSA_DATASETS)}, got {dataset!r}")
    return MMSA_DATASETS[dataset]


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
    bounds = _check_dataset(dataset)
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
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
        dataset: ``"mosi"`` or ``"sims"`` (score range and SIMS' unimodal labels).
        check_media: open every clip with PyAV; a missing, unreadable or too long clip keeps its utterance with
            null media paths, all listed in one warning. False: paths are built from the CSV, unchecked.
        max_clip_seconds: clips longer than this are masked.
        cache_dir: `datasets` cache folder for the Arrow files.

    Returns:
        `DatasetDict` (``train``, ``validation``, ``test``) of rows ``{id, video_id, clip_id, text, label,
        audio_path, video_path}`` (SIMS: plus ``label_text``, ``label_audio``, ``label_visual``).
    """
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


def _column(entry: Mapping[str, Any], key: str, n: int, where: str) -> np.ndarray:
    try:
        value = np.asarray(entry[key])
    except Exception as err:
        raise DatasetFormatError(f"{where}: {key} is not an array ({err})") from None
    if value.shape[:1] != (n,):
        raise DatasetFormatError(f"{where}: {key} has {value.shape[:1]} rows for {n} regression_labels")
    return value


def _parse_split(
    entry: Any, where: str, bounds: tuple[float, float]
) -> tuple[list[dict[str, Any]], dict, int]:
    """Rows of one split of an MMSA pickle, the feature sizes and the number of non-finite values set to 0."""
    if not isinstance(entry, Mapping):
        raise DatasetFormatError(f"{where}: expected a dict of arrays, got {type(entry).__name__}")
    if "regression_labels" not in entry:
        raise DatasetFormatError(f"{where}: no regression_labels (keys: {sorted(entry)})")
    labels = np.asarray(entry["regression_labels"], dtype=np.float64).reshape(-1)
    n = labels.size
    ids = [str(x) for x in _column(entry, "id", n, where)] if "id" in entry else [f"{i}" for i in range(n)]
    texts = [str(x) for x in _column(entry, "raw_text", n, where)] if "raw_text" in entry else [""] * n
    sequences, sizes, non_finite = {}, {}, 0
    for key, name in _SEQUENCE_FIELDS.items():
        if key not in entry:
            continue
        array = _column(entry, key, n, where).astype(np.float32)
        if array.ndim != 3:
            raise DatasetFormatError(f"{where}: {key} must be [N, frames, size], got {list(array.shape)}")
        bad = ~np.isfinite(array)
        non_finite += int(bad.sum())
        sequences[name] = np.where(bad, 0.0, array).astype(np.float32)
        sizes[name] = array.shape[2]
    lengths = {}
    for key, name in (("audio_lengths", "audio_features"), ("vision_lengths", "visual_features")):
        if key in entry and name in sequences:
            lengths[name] = _column(entry, key, n, where).astype(np.int64).reshape(-1)
    token_ids = token_mask = None
    if "text_bert" in entry:
        bert = _column(entry, "text_bert", n, where)
        if bert.ndim != 3 or bert.shape[1] < 2:
            raise DatasetFormatError(f"{where}: text_bert must be [N, 3, T], got {list(bert.shape)}")
        token_ids, token_mask = bert[:, 0].astype(np.int64), bert[:, 1].astype(np.int64)
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
    return rows, sizes, non_finite


def load_mmsa_features(
    path: str | os.PathLike, dataset: str = "mosi", cache_dir: str | os.PathLike | None = None
) -> DatasetDict:
    """Load an MMSA processed feature pickle (``unaligned_50.pkl`` layout) as a `DatasetDict`.

    Args:
        path: the `.pkl` file.
        dataset: ``"mosi"`` or ``"sims"`` (score range of the labels).
        cache_dir: `datasets` cache folder for the Arrow files.

    Returns:
        `DatasetDict` (``train``, ``validation``, ``test``) of rows ``{id, text, label, input_ids, attention_mask,
        text_features, audio_features, visual_features, modality_mask}`` (the ones the file has); sizes with
        :func:`mmsa_feature_sizes`.

    Raises:
        UnsafePickleError: the pickle references a global outside the allow-list.
        DatasetFormatError: a split, an array shape, a length or a label does not match the layout.
    """
    bounds = _check_dataset(dataset)
    path = os.fspath(path)
    data = safe_load_pickle(path)
    if not isinstance(data, Mapping) or not any(split in data for split in MMSA_SPLITS):
        raise DatasetFormatError(
            f"{path}: expected a dict with the splits {list(MMSA_SPLITS)}, got "
            f"{sorted(data) if isinstance(data, Mapping) else type(data).__name__}"
        )
    splits, sizes, non_finite = {}, {}, 0
    for split, name in MMSA_SPLITS.items():
        if split not in data:
            continue
        rows, split_sizes, bad = _parse_split(data[split], f"{path} [{split}]", bounds)
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
    first = next(iter(splits.values()))[0]
    spec: dict[str, Any] = {"id": Value("string"), "text": Value("string"), "label": Value("float32")}
    if "input_ids" in first:
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

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The community feature pickles (DialogueRNN / MMGCN / MM-DFN / MultiEMO) as a `datasets.DatasetDict`.

Layouts (one tuple per file, dicts keyed by dialogue id):

* IEMOCAP, 9 elements: ``videoIDs, videoSpeakers, videoLabels, videoText, videoAudio, videoVisual,
  videoSentence, trainVid, testVid``; speakers are ``"M"``/``"F"``; labels are ints in the order hap, sad, neu,
  ang, exc, fru.
* MELD, 10 elements: the same nine, speakers as one-hot vectors (stored here as the index of the one,
  ``"0"``, ``"1"``...), plus one trailing element (ignored); labels in the order neutral, surprise, fear,
  sadness, joy, disgust, anger. Its ``trainVid`` holds train + dev.

Splits: ``train`` / ``validation`` / ``test``, where ``validation`` is a seeded ``validation_fraction`` of the
file's ``trainVid`` dialogues (the files have no validation split: for MELD this is not the official dev set,
which the file merges into train), and ``test`` is ``testVid``.

Rows (docs/data_formats.md, section 2): ``dialogue_id``, ``speakers`` [N], ``labels`` [N] (`ClassLabel`),
``texts`` [N] (when the file has sentences), ``text_features`` [N, D_t], ``audio_features`` [N, D_a],
``visual_features`` [N, D_v] as `Array2D(shape=(None, D), dtype="float32")`, so ``ds.with_format("numpy")`` or
``"torch"`` hands the collator whole arrays. The sizes D are read from the data: :func:`feature_sizes`.

Security: pickles run code when loaded. :class:`RestrictedUnpickler` (``safe_pickle.py``) builds only builtin
containers and scalars and numpy arrays / scalars of numbers or fixed-size strings, within a memory budget
(``max_bytes``) and a nesting depth, and refuses anything else with :class:`UnsafePickleError` naming the file.

Caching: ``Dataset.from_generator`` with a fingerprint made of the file's path, size and mtime and the options
(see ``_common.py``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from datasets import Array2D, ClassLabel, Dataset, DatasetDict, Features, List, Value
from transformers.utils import logging

from ._common import DatasetFormatError, build_dataset_dict, path_signature, split_validation
from .iemocap import IEMOCAP_LABELS_6
from .meld import MELD_EMOTIONS, repair_text
from .safe_pickle import RestrictedUnpickler, UnsafePickleError, safe_load_pickle

logger = logging.get_logger(__name__)

PICKLE_FIELDS = (
    "videoIDs",
    "videoSpeakers",
    "videoLabels",
    "videoText",
    "videoAudio",
    "videoVisual",
    "videoSentence",
    "trainVid",
    "testVid",
)
PICKLE_LAYOUTS = {"iemocap": (9, IEMOCAP_LABELS_6), "meld": (10, MELD_EMOTIONS)}
MODALITY_FIELDS = {"text": "videoText", "audio": "videoAudio", "visual": "videoVisual"}


def _speaker(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetFormatError(f"{where}: cannot read a speaker from {value!r:.100}") from None
    if arr.ndim == 1 and arr.size > 1:  # one-hot vector (MELD)
        return str(int(np.argmax(arr)))
    if arr.ndim == 0 and np.isfinite(arr) and float(arr) == int(arr):
        return str(int(arr))
    raise DatasetFormatError(f"{where}: cannot read a speaker from {value!r:.100}")


def _label(value: Any, where: str) -> int:
    """A class id: an int (or numpy integer, or an integral float); bool, 2.7, NaN, strings are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DatasetFormatError(
            f"{where}: {value!r:.50} ({type(value).__name__}) is not an integer class id"
        )
    if isinstance(value, (float, np.floating)) and not (math.isfinite(value) and float(value).is_integer()):
        raise DatasetFormatError(f"{where}: {value!r:.50} is not an integer class id")
    return int(value)


def _sequence(value: Any, where: str) -> list:
    """A per-utterance list (list, tuple or 1-d array) of a dialogue."""
    if isinstance(value, np.ndarray):
        return list(value.reshape(-1)) if value.ndim <= 1 else list(value)
    if not isinstance(value, (list, tuple)):
        raise DatasetFormatError(
            f"{where}: expected a list with one entry per utterance, got {type(value).__name__}"
        )
    return list(value)


def _matrix(value: Any, n: int, where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise DatasetFormatError(f"{where}: not a numeric [N, D] array ({e})") from None
    if arr.ndim != 2 or arr.shape[0] != n:
        raise DatasetFormatError(f"{where}: expected shape [{n}, D], got {list(arr.shape)}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = np.argwhere(bad)[0].tolist()
        raise DatasetFormatError(
            f"{where}: {int(bad.sum())} non-finite value(s) (NaN / inf; first at utterance {first[0]}, "
            f"dimension {first[1]}): a feature file must hold finite numbers"
        )
    return arr


def _dialogue_ids(value: Any, path: str, key: str) -> list:
    if not isinstance(value, (set, frozenset, list, tuple, np.ndarray)):
        raise DatasetFormatError(
            f"{path}: {key} must be a collection of dialogue ids, got {type(value).__name__}"
        )
    ids = list(value.tolist() if isinstance(value, np.ndarray) else value)
    for vid in ids:
        if isinstance(vid, (bool, np.bool_)) or not isinstance(vid, (str, int, np.integer)):
            raise DatasetFormatError(
                f"{path}: {key} holds {vid!r:.50} ({type(vid).__name__}), not a dialogue id"
            )
    return ids


def load_feature_pickle(
    path: str | os.PathLike,
    dataset: str | None = None,
    validation_fraction: float = 0.1,
    seed: int = 42,
    cache_dir: str | os.PathLike | None = None,
    max_bytes: int | None = None,
) -> DatasetDict:
    """Load a community feature pickle as a `DatasetDict` with `train`, `validation`, `test`.

    Args:
        path: the `.pkl` file.
        dataset: `"iemocap"` (9-tuple) or `"meld"` (10-tuple), any case; None = from the tuple's length.
        validation_fraction: fraction of the file's train dialogues moved to `validation`.
        seed: seed of the validation draw.
        cache_dir: `datasets` cache folder for the Arrow files.
        max_bytes: memory budget of the unpickling (:func:`safe_load_pickle`); None = 128 MiB + 16 x the file size.

    Returns:
        `DatasetDict` of rows `{dialogue_id, speakers [N], labels [N], texts [N] (if present),
        text_features [N, D_t], audio_features [N, D_a], visual_features [N, D_v]}` (float32). Use
        :func:`feature_sizes` for the D's.

    Raises:
        UnsafePickleError: the pickle holds something a feature file never needs (see ``safe_pickle.py``).
        DatasetFormatError: the tuple layout, a length, a label (not an integer class id), a feature (not a finite
            number) or a dialogue id does not match; the message names the file, the dialogue and the field.
    """
    path = os.fspath(path)
    data = safe_load_pickle(path, max_bytes=max_bytes)
    if not isinstance(data, (tuple, list)):
        raise DatasetFormatError(
            f"{path}: expected a tuple ({', '.join(PICKLE_FIELDS)}, ...), got {type(data)}"
        )
    if dataset is None:
        dataset = {9: "iemocap", 10: "meld"}.get(len(data))
        if dataset is None:
            raise DatasetFormatError(
                f"{path}: a {len(data)}-tuple is neither the IEMOCAP (9) nor the MELD (10) feature layout"
            )
    dataset = dataset.lower() if isinstance(dataset, str) else dataset
    if dataset not in PICKLE_LAYOUTS:
        raise ValueError(f"dataset must be one of {list(PICKLE_LAYOUTS)}, got {dataset!r}")
    expected_len, names = PICKLE_LAYOUTS[dataset]
    if len(data) != expected_len:
        raise DatasetFormatError(
            f"{path}: the {dataset} feature layout is a {expected_len}-tuple ({', '.join(PICKLE_FIELDS)}"
            f"{', <extra>' if expected_len == 10 else ''}), got {len(data)} elements"
        )
    fields = dict(zip(PICKLE_FIELDS, data))
    for key in PICKLE_FIELDS:
        if key in ("trainVid", "testVid"):
            continue
        if fields[key] is not None and not isinstance(fields[key], Mapping):
            raise DatasetFormatError(
                f"{path}: {key} must be a dict keyed by dialogue id, got {type(fields[key])}"
            )
    for key in ("videoIDs", "videoSpeakers", "videoLabels"):
        if fields[key] is None:
            raise DatasetFormatError(f"{path}: {key} is missing (None)")
    train_vids = _dialogue_ids(fields["trainVid"], path, "trainVid")
    test_vids = _dialogue_ids(fields["testVid"], path, "testVid")

    modalities = {m: fields[k] for m, k in MODALITY_FIELDS.items() if fields[k] is not None}
    if not modalities:
        raise DatasetFormatError(f"{path}: no feature field (videoText, videoAudio, videoVisual) is set")
    has_texts = fields["videoSentence"] is not None

    rows: dict[Any, dict[str, Any]] = {}
    names_seen: dict[str, Any] = {}
    sizes: dict[str, int] = {}
    for vid in train_vids + test_vids:
        where = f"{path}: dialogue {vid!r}"
        if vid in rows or str(vid) in names_seen:
            raise DatasetFormatError(
                f"{where}: listed twice in trainVid/testVid (as {names_seen.get(str(vid), vid)!r} and {vid!r})"
            )
        names_seen[str(vid)] = vid
        for key in ("videoIDs", "videoSpeakers", "videoLabels"):
            if vid not in fields[key]:
                raise DatasetFormatError(f"{where}: missing from {key}")
        n = len(_sequence(fields["videoIDs"][vid], f"{where} videoIDs"))
        speakers = [
            _speaker(s, f"{where} videoSpeakers[{i}]")
            for i, s in enumerate(_sequence(fields["videoSpeakers"][vid], f"{where} videoSpeakers"))
        ]
        labels = [
            _label(x, f"{where} videoLabels[{i}]")
            for i, x in enumerate(_sequence(fields["videoLabels"][vid], f"{where} videoLabels"))
        ]
        if len(speakers) != n or len(labels) != n:
            raise DatasetFormatError(
                f"{where}: {n} utterance ids but {len(speakers)} speakers and {len(labels)} labels"
            )
        bad = [x for x in labels if not (0 <= x < len(names) or x == -1)]
        if bad:
            raise DatasetFormatError(
                f"{where}: label(s) {sorted(set(bad))} outside 0..{len(names) - 1} ({names})"
            )
        row: dict[str, Any] = {"dialogue_id": str(vid), "speakers": speakers, "labels": labels}
        if has_texts:
            if vid not in fields["videoSentence"]:
                raise DatasetFormatError(f"{where}: missing from videoSentence")
            texts = [
                repair_text(t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t))
                for t in _sequence(fields["videoSentence"][vid], f"{where} videoSentence")
            ]
            if len(texts) != n:
                raise DatasetFormatError(f"{where}: {n} utterance ids but {len(texts)} sentences")
            row["texts"] = texts
        for modality, table in modalities.items():
            key = MODALITY_FIELDS[modality]
            if vid not in table:
                raise DatasetFormatError(f"{where}: missing from {key}")
            arr = _matrix(table[vid], n, f"{where} {key}")
            if sizes.setdefault(modality, arr.shape[1]) != arr.shape[1]:
                raise DatasetFormatError(
                    f"{where} {key}: feature size {arr.shape[1]} differs from {sizes[modality]} in other dialogues"
                )
            row[f"{modality}_features"] = arr
        rows[vid] = row

    train_keys = {str(v): v for v in train_vids}
    train_ids, val_ids = split_validation(train_keys, validation_fraction, seed)
    splits = {"train": [rows[train_keys[i]] for i in train_ids]}
    if val_ids:
        splits["validation"] = [rows[train_keys[i]] for i in val_ids]
    splits["test"] = [rows[v] for v in sorted(test_vids, key=str)]

    spec: dict[str, Any] = {
        "dialogue_id": Value("string"),
        "speakers": List(Value("string")),
        "labels": List(ClassLabel(names=list(names))),
    }
    if has_texts:
        spec["texts"] = List(Value("string"))
    for modality, size in sizes.items():
        spec[f"{modality}_features"] = Array2D(shape=(None, size), dtype="float32")
    logger.info(
        f"{path}: {dataset} features, sizes {sizes}, splits { {k: len(v) for k, v in splits.items()} }"
    )
    return build_dataset_dict(
        splits,
        Features(spec),
        fingerprint_parts=["feature_pickle", dataset, path_signature(path), validation_fraction, seed],
        cache_dir=cache_dir,
        row_key="dialogue_id",
    )


def feature_sizes(dataset: Dataset | DatasetDict) -> dict[str, int | None]:
    """`{"text": D_t, "audio": D_a, "visual": D_v}` of a feature-pickle dataset (None for an absent modality).

    Set the model config from it, e.g. ``MCNCLConfig(use_text_encoder=False, text_feature_size=sizes["text"],
    audio_feature_size=sizes["audio"], visual_feature_size=sizes["visual"], visual_backbone=None)``.
    """
    if isinstance(dataset, DatasetDict):
        dataset = next(iter(dataset.values()))
    out: dict[str, int | None] = {}
    for modality in MODALITY_FIELDS:
        feat = dataset.features.get(f"{modality}_features")
        out[modality] = int(feat.shape[1]) if isinstance(feat, Array2D) else None
    return out


__all__ = [
    "RestrictedUnpickler",
    "UnsafePickleError",
    "feature_sizes",
    "load_feature_pickle",
    "safe_load_pickle",
]

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Padding of MCIHN utterance features: `pad_utterances(features)` turns a list of unpadded utterance features
(from `MCIHNProcessor.prepare_utterance` or a dataset) into the padded `[B, ...]` sequences with every mask that
`MCIHNForMultimodalSentiment` takes, and `check_label` validates a gold label. It is the one place where MCIHN's
padding and masks are built: the processor and the training collator (`mcn_cl.trainer_mcihn.MCIHNDataCollator`)
both call it.

A Hub file like its siblings (copied next to the processor config by `save_pretrained`): imports only same-folder
siblings and public libraries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers import BatchFeature

from .inputs_mcn_cl import MCNCLInputError

# precomputed sequence key -> (modality index, mask key)
FEATURE_KEYS = {
    "text_features": (0, "text_mask"),
    "audio_features": (1, "audio_mask"),
    "visual_features": (2, "visual_mask"),
}


def _as_array(value: Any, dtype) -> np.ndarray:
    # an out-of-range value becomes inf: the callers check finiteness
    with np.errstate(over="ignore", invalid="ignore"):
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().numpy().astype(dtype, copy=False)
        return np.asarray(value, dtype=dtype)


def _pad_sequences(
    rows: list[np.ndarray | None], dtype, pad_value=0, field: str = "input"
) -> tuple[np.ndarray, np.ndarray]:
    """Stack arrays [T_b, *S] (or None) into [B, T_max, *S] and a [B, T_max] mask (1 = real frame)."""
    first = next(b for b, r in enumerate(rows) if r is not None)
    inner = rows[first].shape[1:]
    for b, r in enumerate(rows):
        if r is not None and r.shape[1:] != inner:
            raise MCNCLInputError(
                f"frames of shape {list(r.shape[1:])} differ from utterance {first}'s {list(inner)} in one batch",
                field,
                b,
            )
    length = max(max((r.shape[0] for r in rows if r is not None), default=1), 1)
    out = np.full((len(rows), length, *inner), pad_value, dtype=dtype)
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for b, r in enumerate(rows):
        if r is not None and r.shape[0]:
            out[b, : r.shape[0]] = r
            mask[b, : r.shape[0]] = 1
    return out, mask


def check_label(value: Any, num_labels: int | None = None, sentiment_range: Sequence[float] | None = None,
                utterance: int | None = None) -> float | int | None:  # fmt: skip
    """A gold label, validated: `None` (unlabelled), a sentiment score (`float`) or a class id (`int`; -1 / -100
    unlabelled). With `num_labels` (the model's) the kind is fixed: 1 = a finite score inside `sentiment_range`,
    more = a whole class id in [0, num_labels). Anything else is an `MCNCLInputError` naming the utterance."""

    def fail(reason: str):
        raise MCNCLInputError(reason, "label", utterance)

    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        fail(f"{value!r:.40} is not a number (a sentiment score or a class id)")
    number = float(value)
    if not np.isfinite(number):
        fail(f"{value!r} is not finite")
    whole = number == int(number)
    if num_labels is None:
        if isinstance(value, int | np.integer) and not (number in (-1, -100) or 0 <= number < 2**31):
            fail(f"{value!r} is not a class id")
        return int(value) if isinstance(value, int | np.integer) else number
    if num_labels == 1:
        if sentiment_range is not None:
            low, high = sentiment_range
            if not low <= number <= high:
                fail(f"score {value!r} outside the model's sentiment range [{low:g}, {high:g}]")
        return number
    if not whole:
        fail(f"{value!r} is not a whole class id (the model has {num_labels} classes)")
    if int(number) in (-1, -100):
        return -100
    if not 0 <= int(number) < num_labels:
        fail(f"class id {int(number)} outside [0, {num_labels})")
    return int(number)


def _labels(features: Sequence[Mapping[str, Any]]) -> torch.Tensor | None:
    values = [check_label(row.get("labels", row.get("label")), utterance=b) for b, row in enumerate(features)]
    if all(v is None for v in values):
        return None
    regression = any(isinstance(v, float) for v in values)
    if regression:
        missing = [b for b, v in enumerate(values) if v is None]
        if missing:
            raise MCNCLInputError(
                "no sentiment score while others of the batch have one", "label", missing[0]
            )
        return torch.tensor([float(v) for v in values], dtype=torch.float32)
    return torch.tensor([-100 if v is None or int(v) < 0 else int(v) for v in values], dtype=torch.long)


def pad_utterances(features: Sequence[Mapping[str, Any]], pad_token_id: int = 0) -> BatchFeature:
    """Pad utterance features into MCIHN's model inputs.

    The one function that builds MCIHN's padding and masks (the processor and the training collator both call it).

    Args:
        features: one mapping per utterance with any of `input_ids` / `attention_mask` (token lists),
            `input_values` (waveform [S]), `pixel_values` [L, 3, H, W] with `frame_mask` [L], precomputed
            `text_features` [T_t, D_t], `audio_features` [T_a, D_a], `visual_features` [T_v, D_v] (their own masks
            `text_mask` ... optional), `modality_mask` [3], `labels` / `label` (float score or class id; -1, -100,
            None = unlabelled class). Other keys (`id`, `text`, `media_errors`, ...) are ignored.
        pad_token_id: id written into `input_ids` on padding tokens.

    Returns:
        `BatchFeature` of `torch` tensors for B utterances: the modality tensors padded with zeros and their masks
        (`attention_mask` [B, T], `audio_attention_mask` [B, S], `frame_mask` [B, L], `text_mask` / `audio_mask` /
        `visual_mask` [B, T_m]), `modality_mask` [B, 3] (given & the key is present), `labels` [B] (float32 scores
        or int64 ids, -100 = unlabelled) when any utterance has one.
    """
    if len(features) == 0:
        raise MCNCLInputError("received no utterance", "utterances")
    batch = len(features)
    for b, row in enumerate(features):
        if row.get("input_ids") is not None and row.get("text_features") is not None:
            raise MCNCLInputError(
                "input_ids and text_features both given: one text input per utterance (input_ids for the text "
                "tower, text_features for precomputed frames)",
                "text_features",
                b,
            )
    out: dict[str, torch.Tensor] = {}
    has = np.zeros((batch, 3), dtype=bool)

    if any(row.get("input_ids") is not None for row in features):
        ids = [
            _as_array(row["input_ids"], np.int64) if row.get("input_ids") is not None else None
            for row in features
        ]
        padded, mask = _pad_sequences(ids, np.int64, pad_token_id, "input_ids")
        for b, row in enumerate(features):
            if row.get("attention_mask") is not None:
                given = _as_array(row["attention_mask"], np.int64)
                mask[b, : given.shape[0]] = given
        has[:, 0] |= [r is not None for r in ids]
        out["input_ids"], out["attention_mask"] = torch.from_numpy(padded), torch.from_numpy(mask)
    if any(row.get("input_values") is not None for row in features):
        waves = [
            _as_array(row["input_values"], np.float32).reshape(-1)
            if row.get("input_values") is not None
            else None
            for row in features
        ]
        padded, mask = _pad_sequences(waves, np.float32, field="input_values")
        has[:, 1] |= [w is not None for w in waves]
        out["input_values"], out["audio_attention_mask"] = torch.from_numpy(padded), torch.from_numpy(mask)
    if any(row.get("pixel_values") is not None for row in features):
        frames = [
            _as_array(row["pixel_values"], np.float32) if row.get("pixel_values") is not None else None
            for row in features
        ]
        padded, mask = _pad_sequences(frames, np.float32, field="pixel_values")
        for b, row in enumerate(features):
            if row.get("frame_mask") is not None:
                given = _as_array(row["frame_mask"], np.int64)
                mask[b] = 0
                mask[b, : given.shape[0]] = given
        has[:, 2] |= [f is not None for f in frames]
        out["pixel_values"], out["frame_mask"] = torch.from_numpy(padded), torch.from_numpy(mask)
    for key, (m, mask_key) in FEATURE_KEYS.items():
        if not any(row.get(key) is not None for row in features):
            continue
        rows = [_as_array(row[key], np.float32) if row.get(key) is not None else None for row in features]
        for b, r in enumerate(rows):
            if r is not None and r.ndim != 2:
                raise MCNCLInputError(f"must be [frames, size], got {list(r.shape)}", key, b)
        padded, mask = _pad_sequences(rows, np.float32, field=key)
        for b, row in enumerate(features):
            if row.get(mask_key) is not None:
                given = _as_array(row[mask_key], np.int64)
                mask[b] = 0
                mask[b, : given.shape[0]] = given
        has[:, m] |= [r is not None for r in rows]
        out[key], out[mask_key] = torch.from_numpy(padded), torch.from_numpy(mask)

    modality_mask = has.astype(np.int64)
    for b, row in enumerate(features):
        if row.get("modality_mask") is not None:
            given = _as_array(row["modality_mask"], np.int64).reshape(-1)
            if given.shape != (3,):
                raise MCNCLInputError(f"shape {given.shape}, expected (3,)", "modality_mask", b)
            modality_mask[b] &= given
    out["modality_mask"] = torch.from_numpy(modality_mask)
    labels = _labels(features)
    if labels is not None:
        out["labels"] = labels
    return BatchFeature(out)


__all__ = ["pad_utterances", "check_label", "FEATURE_KEYS"]

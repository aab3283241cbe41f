# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Padding of MCN-CL dialogue features: `pad_dialogues(features)` turns a list of unpadded dialogue features (one
row per conversation, from `MCNCLProcessor.prepare_dialogue` or a dataset) into the model's padded `[B, N, ...]`
tensors with every mask (docs/data_formats.md, section 3), and `check_label` validates a label. It is the one
place where padding and masks are built: the processor and the training collator both call it.

A Hub file like its siblings (copied next to the processor config by `save_pretrained`): imports only same-folder
siblings and public libraries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers import BatchFeature

from .inputs_mcn_cl import MCNCLInputError, is_real_number

UNLABELLED = (-1, -100)  # label values (besides None) meaning "no label"
# keys of a dialogue-feature row that hold one entry per utterance; `labels` first: it is the cheapest column to read
PER_UTTERANCE_KEYS = (
    "labels",
    "speakers",
    "speaker_ids",
    "input_ids",
    "text_features",
    "audio_features",
    "visual_features",
    "pixel_values",
    "modality_mask",
)
# keys of a dialogue-feature row that hold one entry per utterance, by modality
_TEXT_KEYS = ("input_ids", "text_features")
_VISUAL_KEYS = ("pixel_values", "visual_features")


def _as_array(value: Any, dtype) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().astype(dtype, copy=False)
    return np.asarray(value, dtype=dtype)


def _num_utterances(row: Mapping[str, Any], index: int) -> int:
    counts = {}
    for key in PER_UTTERANCE_KEYS:
        if row.get(key) is not None:
            counts[key] = len(row[key])
    if not counts:
        raise ValueError(f"pad_dialogues: dialogue {index} has no per-utterance key (labels, features, ...)")
    if len(set(counts.values())) != 1:
        raise ValueError(f"pad_dialogues: dialogue {index} has inconsistent utterance counts {counts}")
    n = next(iter(counts.values()))
    if n == 0:
        raise ValueError(f"pad_dialogues: dialogue {index} has no utterance")
    return n


def _scalar(value: Any) -> Any:
    """A 0-d numpy array or tensor -> its Python number (other values unchanged)."""
    if isinstance(value, np.ndarray | torch.Tensor) and value.ndim == 0:
        return value.item()
    return value


def check_label(value: Any, utterance: int | None = None, dialogue: str | None = None) -> int:
    """An utterance's label -> its class id, or -100 for an unlabelled utterance (`None`, -1, -100).

    Accepts integers and whole floats (2.0, as JSON may give); raises `MCNCLInputError` naming the utterance for
    anything else (a name such as `"joy"`, NaN, inf, 2.7, a negative id other than -1 / -100, an id >= 2**31).
    """
    value = _scalar(value)
    if value is None:
        return -100
    if not is_real_number(value) or not np.isfinite(value) or float(value) != int(value):
        raise MCNCLInputError(
            f"{type(value).__name__} {value!r:.40} is not an integer class id (None, -1 or -100: unlabelled)",
            "label",
            utterance,
            dialogue,
        )
    label = int(value)
    if label in UNLABELLED:
        return -100
    if not 0 <= label < 2**31:
        raise MCNCLInputError(
            f"{label} is not a class id (0 <= id; -1, -100 or None: unlabelled)", "label", utterance, dialogue
        )
    return label


def _speaker_ids(row: Mapping[str, Any], n: int, index: int) -> list[int]:
    if row.get("speaker_ids") is not None:
        ids = []
        for i, s in enumerate(row["speaker_ids"]):
            s = _scalar(s)
            if not is_real_number(s) or float(s) != int(s) or int(s) < 0:
                raise MCNCLInputError(
                    f"speaker id {s!r:.40} is not a non-negative integer", "speaker_ids", i, str(index)
                )
            ids.append(int(s))
        return ids
    if row.get("speakers") is not None:
        order: dict[Any, int] = {}
        return [order.setdefault(s, len(order)) for s in row["speakers"]]
    return [0] * n


def _pad_dense(
    rows: list[np.ndarray | None], batch: int, num_utt: int, dtype
) -> tuple[np.ndarray, list[bool]]:
    """Stack per-dialogue arrays [n_b, *S_b] into [B, N, *S_max] (zeros where missing); rows may be None."""
    present = [r is not None for r in rows]
    shapes = [r.shape[1:] for r in rows if r is not None]
    if len({len(s) for s in shapes}) != 1:
        raise ValueError(f"pad_dialogues: arrays of different ranks across dialogues: {shapes}")
    inner = tuple(max(s[d] for s in shapes) for d in range(len(shapes[0])))
    out = np.zeros((batch, num_utt, *inner), dtype=dtype)
    for b, r in enumerate(rows):
        if r is not None:
            out[(b, slice(0, r.shape[0]), *(slice(0, k) for k in r.shape[1:]))] = r
    return out, present


def pad_dialogues(features: Sequence[Mapping[str, Any]], pad_token_id: int = 0) -> BatchFeature:
    """Pad dialogue features (docs/data_formats.md, section 2) into model inputs (section 3).

    The one function of the package that builds the padding and the masks (the processor and the training
    collator both call it).

    Args:
        features: one mapping per dialogue with any of `input_ids` / `attention_mask` (ragged token lists),
            `text_features` [N, D_t], `audio_features` [N, D_a], `visual_features` [N, L, D_v] or [N, D_v],
            `pixel_values` [N, L, 3, H, W], `frame_mask` [N, L], `speakers` (names) or `speaker_ids` [N],
            `labels` [N] (-1, -100 or None = unlabelled), `modality_mask` [N, 3]. Other keys (`dialogue_id`,
            `media_errors`, ...) are ignored. Lists, numpy arrays and tensors are accepted.
        pad_token_id: id written into `input_ids` on padding tokens and padded utterances.

    Returns:
        `BatchFeature` of `torch` tensors, B dialogues padded to N utterances:
        `utterance_mask` [B, N] (1 = real), `speaker_ids` [B, N] (index of the speaker by first appearance in
        the dialogue when names are given), `modality_mask` [B, N, 3] (given, else 1 where the dialogue has the
        modality's key; 0 on padding), `labels` [B, N] (-100 on padding and unlabelled utterances) if any
        dialogue has labels, and the modality tensors padded with zeros: `input_ids` / `attention_mask`
        [B, N, T], `text_features` [B, N, D_t], `audio_features` [B, N, D_a], `visual_features` [B, N, L, D_v]
        or [B, N, D_v], `pixel_values` [B, N, L, 3, H, W], with `frame_mask` [B, N, L] (1 = real frame) for
        frame-level visual inputs.
    """
    if len(features) == 0:
        raise MCNCLInputError("pad_dialogues: received no dialogue", "conversations")
    batch = len(features)
    for b, row in enumerate(features):
        if not isinstance(row, Mapping):
            raise MCNCLInputError(
                f"expected a dict of dialogue features, got {type(row).__name__}", "features", None, str(b)
            )
    lengths = [_num_utterances(row, b) for b, row in enumerate(features)]
    num_utt = max(lengths)
    out: dict[str, torch.Tensor] = {}

    utterance_mask = np.zeros((batch, num_utt), dtype=np.int64)
    speaker_ids = np.zeros((batch, num_utt), dtype=np.int64)
    for b, (row, n) in enumerate(zip(features, lengths)):
        utterance_mask[b, :n] = 1
        speaker_ids[b, :n] = _speaker_ids(row, n, b)
    out["utterance_mask"] = torch.from_numpy(utterance_mask)
    out["speaker_ids"] = torch.from_numpy(speaker_ids)

    if any(row.get("labels") is not None for row in features):
        labels = np.full((batch, num_utt), -100, dtype=np.int64)
        for b, row in enumerate(features):
            if row.get("labels") is not None:
                values = [check_label(y, i, str(b)) for i, y in enumerate(row["labels"])]
                labels[b, : len(values)] = values
        out["labels"] = torch.from_numpy(labels)

    # which modality each dialogue carries (default modality mask)
    has = np.zeros((batch, 3), dtype=bool)

    # text: token ids (ragged) or vectors
    if any(row.get("input_ids") is not None for row in features):
        seqs = [row.get("input_ids") for row in features]
        max_len = max((len(t) for s in seqs if s is not None for t in s), default=1)
        input_ids = np.full((batch, num_utt, max_len), pad_token_id, dtype=np.int64)
        attention = np.zeros((batch, num_utt, max_len), dtype=np.int64)
        for b, (row, s) in enumerate(zip(features, seqs)):
            if s is None:
                continue
            has[b, 0] = True
            masks = row.get("attention_mask")
            for i, tokens in enumerate(s):
                tokens = list(_as_array(tokens, np.int64)) if len(tokens) else []
                input_ids[b, i, : len(tokens)] = tokens
                attention[b, i, : len(tokens)] = _as_array(masks[i], np.int64) if masks is not None else 1
        out["input_ids"], out["attention_mask"] = torch.from_numpy(input_ids), torch.from_numpy(attention)
    for key, m in (("text_features", 0), ("audio_features", 1)):
        if any(row.get(key) is not None for row in features):
            rows = [_as_array(row[key], np.float32) if row.get(key) is not None else None for row in features]
            padded, present = _pad_dense(rows, batch, num_utt, np.float32)
            has[:, m] |= present
            out[key] = torch.from_numpy(padded)

    # visual: frames or frame features (with frame_mask) or utterance vectors
    for key in _VISUAL_KEYS:
        if not any(row.get(key) is not None for row in features):
            continue
        rows = [_as_array(row[key], np.float32) if row.get(key) is not None else None for row in features]
        padded, present = _pad_dense(rows, batch, num_utt, np.float32)
        has[:, 2] |= present
        out[key] = torch.from_numpy(padded)
        frame_level = key == "pixel_values" or padded.ndim == 4
        if frame_level and "frame_mask" not in out:
            num_frames = padded.shape[2]
            frame_mask = np.zeros((batch, num_utt, num_frames), dtype=np.int64)
            for b, (row, r) in enumerate(zip(features, rows)):
                if r is None:
                    continue
                if row.get("frame_mask") is not None:
                    fm = _as_array(row["frame_mask"], np.int64)
                    frame_mask[b, : fm.shape[0], : fm.shape[1]] = fm
                else:
                    frame_mask[b, : r.shape[0], : r.shape[1]] = 1
            out["frame_mask"] = torch.from_numpy(frame_mask)

    modality_mask = np.zeros((batch, num_utt, 3), dtype=np.int64)
    for b, (row, n) in enumerate(zip(features, lengths)):
        if row.get("modality_mask") is not None:
            given = _as_array(row["modality_mask"], np.int64)
            if given.shape != (n, 3):
                raise ValueError(
                    f"pad_dialogues: dialogue {b} has modality_mask of shape {given.shape}, expected {(n, 3)}"
                )
            modality_mask[b, :n] = given * has[b]
        else:
            modality_mask[b, :n] = has[b]
    out["modality_mask"] = torch.from_numpy(modality_mask)
    return BatchFeature(out)


__all__ = ["pad_dialogues", "check_label", "UNLABELLED"]

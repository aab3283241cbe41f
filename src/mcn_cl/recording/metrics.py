# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""How close a segmentation is to a reference: utterance boundaries (:func:`boundary_f1`) and speakers
(:func:`speaker_error`), both on lists of `{"start", "end", "speaker"}` dicts in seconds (what
`segment_recording` returns). Used by the tests and `benchmarks/recording.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def boundary_f1(
    predicted: Sequence[Mapping[str, float]], truth: Sequence[Mapping[str, float]], tolerance: float = 0.25
) -> dict[str, float]:
    """Precision / recall / F1 of utterance boundaries: every `start` and `end` is a boundary, a predicted one is
    right when an unmatched true one lies within `tolerance` seconds (greedy one-to-one matching, closest first)."""
    pred = sorted(t for u in predicted for t in (u["start"], u["end"]))
    true = sorted(t for u in truth for t in (u["start"], u["end"]))
    pairs = sorted(
        (abs(p - t), i, j) for i, p in enumerate(pred) for j, t in enumerate(true) if abs(p - t) <= tolerance
    )
    used_p, used_t, hits = set(), set(), 0
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            hits += 1
    precision = hits / len(pred) if pred else 0.0
    recall = hits / len(true) if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def speaker_error(
    predicted: Sequence[Mapping[str, Any]], truth: Sequence[Mapping[str, Any]], step: float = 0.01
) -> float:
    """Share of the true speech time given the wrong speaker (missed speech counts as wrong), after mapping the
    predicted speaker names onto the true ones (the mapping that maximises agreement, Hungarian)."""
    from scipy.optimize import linear_sum_assignment

    end = max([u["end"] for u in truth] + [u["end"] for u in predicted] + [0.0])
    n = int(np.ceil(end / step)) + 1
    true_names = sorted({u["speaker"] for u in truth})
    pred_names = sorted({u["speaker"] for u in predicted})
    t_lab = np.full(n, -1)
    p_lab = np.full(n, -1)
    for u in truth:
        t_lab[int(u["start"] / step) : int(u["end"] / step)] = true_names.index(u["speaker"])
    for u in predicted:
        p_lab[int(u["start"] / step) : int(u["end"] / step)] = pred_names.index(u["speaker"])
    speech = t_lab >= 0
    if not speech.any():
        return 0.0
    overlap = np.zeros((len(pred_names), len(true_names)))
    for p in range(len(pred_names)):
        for t in range(len(true_names)):
            overlap[p, t] = np.sum((p_lab == p) & (t_lab == t))
    mapping = np.full(len(pred_names) + 1, -2)
    if pred_names:
        rows, cols = linear_sum_assignment(-overlap)
        mapping[rows] = cols
    mapped = np.where(p_lab >= 0, mapping[p_lab], -2)
    return float(np.mean(mapped[speech] != t_lab[speech]))


__all__ = ["boundary_f1", "speaker_error"]

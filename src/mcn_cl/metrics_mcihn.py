# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Sentiment-regression metrics in the MMSA convention (the toolkit the MCIHN paper's CH-SIMS / CMU-MOSI numbers
follow), computed with numpy and scikit-learn.

CMU-MOSI (scores in [-3, 3]):

- `acc_2` / `f1`: negative (< 0) vs positive (> 0) over the utterances whose gold score is not 0 (MMSA's
  "Non0_acc_2" / "Non0_F1_score", the Acc-2 / F1 usually reported); `has0_acc_2` / `has0_f1`: negative (< 0) vs
  non-negative (>= 0) over all utterances ("Has0_*");
- `acc_7`: scores clipped to [-3, 3] and rounded to the 7 integers; `acc_5`: clipped to [-2, 2], rounded;
- `mae`, `corr` (Pearson).

CH-SIMS (scores in [-1, 1]), class boundaries of MMSA's `__eval_sims_regression`:

- `acc_2` / `f1`: (-1, 0] vs (0, 1]; `acc_3`: boundaries -0.1, 0.1; `acc_5`: -0.7, -0.1, 0.1, 0.7;
- `mae`, `corr` of the predictions and labels **clipped to [-1, 1]** first (MMSA clips both before every SIMS
  metric; MOSI's MAE and Corr use the unclipped scores, as MMSA's `__eval_mosei_regression` does).

F1 is the weighted F1 of the two classes, as MMSA computes it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

DATASETS = ("mosi", "sims")
_SIMS_BOUNDARIES = {"acc_2": (0.0,), "acc_3": (-0.1, 0.1), "acc_5": (-0.7, -0.1, 0.1, 0.7)}


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 2 or np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def _bins(values: np.ndarray, boundaries: Sequence[float]) -> np.ndarray:
    """Class index of each value for classes (-inf, b0], (b0, b1], ..., (b_last, inf)."""
    return np.searchsorted(np.asarray(boundaries), values, side="left")


def sentiment_metrics(
    predictions: Sequence[float] | np.ndarray, references: Sequence[float] | np.ndarray, dataset: str = "mosi"
) -> dict[str, float]:
    """MMSA-style metrics of predicted sentiment scores.

    Args:
        predictions: predicted scores, one per utterance.
        references: gold scores.
        dataset: `"mosi"` (Acc-2, F1, Acc-5, Acc-7, MAE, Corr; the has-0 variants too) or `"sims"` (Acc-2, F1,
            Acc-3, Acc-5, MAE, Corr).

    Returns:
        dict of fractions in [0, 1] (accuracies, F1), `mae`, `corr` and `num_utterances`.
    """
    if dataset not in DATASETS:
        raise ValueError(f"sentiment_metrics: dataset must be one of {DATASETS}, got {dataset!r}")
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    references = np.asarray(references, dtype=np.float64).reshape(-1)
    if predictions.shape != references.shape:
        raise ValueError(
            f"sentiment_metrics: {predictions.size} predictions for {references.size} references"
        )
    if references.size == 0:
        raise ValueError("sentiment_metrics: no utterance to evaluate")
    if not np.isfinite(predictions).all():
        raise ValueError("sentiment_metrics: the predictions contain NaN or inf")
    metrics: dict[str, float] = {
        "mae": float(np.mean(np.abs(predictions - references))),
        "corr": _correlation(predictions, references),
        "num_utterances": int(references.size),
    }
    if dataset == "mosi":
        nonzero = references != 0
        pred_pos, ref_pos = predictions[nonzero] > 0, references[nonzero] > 0
        metrics["acc_2"] = float(accuracy_score(ref_pos, pred_pos)) if nonzero.any() else 0.0
        metrics["f1"] = (
            float(f1_score(ref_pos, pred_pos, average="weighted", zero_division=0)) if nonzero.any() else 0.0
        )
        has0_pred, has0_ref = predictions >= 0, references >= 0
        metrics["has0_acc_2"] = float(accuracy_score(has0_ref, has0_pred))
        metrics["has0_f1"] = float(f1_score(has0_ref, has0_pred, average="weighted", zero_division=0))
        for name, bound in (("acc_7", 3.0), ("acc_5", 2.0)):
            p = np.round(np.clip(predictions, -bound, bound))
            r = np.round(np.clip(references, -bound, bound))
            metrics[name] = float(np.mean(p == r))
    else:
        p, r = np.clip(predictions, -1.0, 1.0), np.clip(references, -1.0, 1.0)
        metrics["mae"] = float(np.mean(np.abs(p - r)))
        metrics["corr"] = _correlation(p, r)
        for name, boundaries in _SIMS_BOUNDARIES.items():
            metrics[name] = float(np.mean(_bins(p, boundaries) == _bins(r, boundaries)))
        metrics["f1"] = float(
            f1_score(_bins(r, (0.0,)), _bins(p, (0.0,)), average="weighted", zero_division=0)
        )
    return metrics


def compute_sentiment_metrics(eval_pred: Any, dataset: str = "mosi") -> dict[str, float]:
    """`compute_metrics` for `transformers.Trainer` with a regression MCIHN: `predictions` [B, 1] or [B]."""
    predictions, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(predictions, tuple | list):
        predictions = predictions[0]
    return sentiment_metrics(np.asarray(predictions).reshape(-1), np.asarray(labels).reshape(-1), dataset)


def make_sentiment_metrics(dataset: str):
    """[`compute_sentiment_metrics`] with the dataset's convention bound (`"mosi"` or `"sims"`)."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    return functools.partial(compute_sentiment_metrics, dataset=dataset)


__all__ = ["compute_sentiment_metrics", "make_sentiment_metrics", "sentiment_metrics"]

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Evaluation metrics of emotion recognition in conversation: weighted F1 (the headline), macro F1, accuracy
and per-class F1, computed with scikit-learn over the labelled utterances only.

[`compute_metrics`] plugs into `transformers.Trainer(compute_metrics=...)`; the same numbers are available as an
`evaluate` metric module shipped inside the package (no Hub download):

```python
>>> import evaluate
>>> from mcn_cl.metrics_mcn_cl import EVALUATE_METRIC_PATH

>>> metric = evaluate.load(EVALUATE_METRIC_PATH)
>>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0], label_names=["hap", "sad"])["weighted_f1"]
```
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

# the `evaluate` module file (package data, see setup.cfg)
EVALUATE_METRIC_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "evaluate_metric", "mcn_cl_emotion_f1.py"
)

IGNORE_INDEX = -100


def emotion_metrics(
    predictions: Sequence[int] | np.ndarray,
    references: Sequence[int] | np.ndarray,
    label_names: Sequence[str] | Mapping[int, str] | None = None,
) -> dict[str, float]:
    """Weighted F1, macro F1, accuracy and one `f1_<label>` per class.

    Args:
        predictions (`Sequence[int]`): predicted class ids, one per utterance.
        references (`Sequence[int]`): gold class ids; negative ids (-100, -1: padding / unlabelled) are ignored.
        label_names (`Sequence[str]` or `Mapping[int, str]`, *optional*): names of the classes, in id order (e.g.
            `config.id2label`). Every named class gets an `f1_<name>` entry (0.0 when it never occurs in the
            references or predictions). Default: the ids seen, named by their number.

    Returns:
        `dict` with `weighted_f1`, `macro_f1`, `accuracy` (fractions in [0, 1]), `num_utterances` and the
        per-class `f1_<label>`.
    """
    predictions = np.asarray(predictions).reshape(-1)
    references = np.asarray(references).reshape(-1)
    if predictions.shape != references.shape:
        raise ValueError(
            f"emotion_metrics: {predictions.shape[0]} predictions for {references.shape[0]} references"
        )
    keep = references >= 0
    predictions, references = predictions[keep].astype(np.int64), references[keep].astype(np.int64)
    if references.size == 0:
        raise ValueError(
            "emotion_metrics: no labelled utterance to evaluate (all references are negative/-100)"
        )

    if label_names is None:
        ids = sorted(set(references.tolist()) | set(predictions.tolist()))
        names = {i: str(i) for i in ids}
    elif isinstance(label_names, Mapping):
        names = {int(i): str(name) for i, name in label_names.items()}
    else:
        names = dict(enumerate(label_names))
    ids = sorted(names)

    per_class = f1_score(references, predictions, labels=ids, average=None, zero_division=0)
    metrics = {
        # weighted / macro over the classes present in the references (the ERC convention)
        "weighted_f1": float(f1_score(references, predictions, average="weighted", zero_division=0)),
        "macro_f1": float(f1_score(references, predictions, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(references, predictions)),
        "num_utterances": int(references.size),
    }
    for i, score in zip(ids, per_class):
        metrics[f"f1_{names[i]}"] = float(score)
    return metrics


def compute_metrics(
    eval_pred: Any, id2label: Mapping[int, str] | Sequence[str] | None = None
) -> dict[str, float]:
    """`compute_metrics` for `transformers.Trainer`.

    Args:
        eval_pred (`EvalPrediction`): `predictions` = logits `[B, N, K]` (or a tuple whose first item is the
            logits, or already-argmaxed ids `[B, N]`), `label_ids` = `[B, N]`. The Trainer pads dialogues of
            different lengths with -100 in both; those positions are ignored.
        id2label (`Mapping[int, str]`, *optional*): names for the per-class entries. Bind it with
            [`make_compute_metrics`] (`Trainer(compute_metrics=make_compute_metrics(model.config.id2label))`).

    Returns:
        The dictionary of [`emotion_metrics`]; the Trainer prefixes the keys with `eval_` / `test_`.
    """
    predictions, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(predictions, (tuple, list)):
        predictions = predictions[0]
    if isinstance(labels, (tuple, list)):
        labels = labels[0]
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.ndim == labels.ndim + 1:  # logits -> class ids (padded positions are ignored below)
        predictions = predictions.argmax(axis=-1)
    return emotion_metrics(predictions, labels, id2label)


def make_compute_metrics(id2label: Mapping[int, str] | Sequence[str] | None):
    """[`compute_metrics`] with the label names bound (per-class keys `f1_<label>`)."""
    return functools.partial(compute_metrics, id2label=id2label)


__all__ = ["EVALUATE_METRIC_PATH", "compute_metrics", "emotion_metrics", "make_compute_metrics"]

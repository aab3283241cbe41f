"""Tests of the ERC metrics: the Trainer `compute_metrics` and the shipped `evaluate` module."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score
from transformers import EvalPrediction

from mcn_cl.metrics_mcn_cl import EVALUATE_METRIC_PATH, compute_metrics, emotion_metrics, make_compute_metrics

LABELS = {0: "hap", 1: "sad", 2: "neu"}


def test_emotion_metrics_ignore_negative_references():
    metrics = emotion_metrics([0, 1, 2, 2, 1], [0, 1, 1, -100, -1], LABELS)
    assert metrics["num_utterances"] == 3
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["weighted_f1"] == pytest.approx(f1_score([0, 1, 1], [0, 1, 2], average="weighted"))


def test_per_class_f1_is_named_by_label_including_absent_classes():
    metrics = emotion_metrics([0, 0, 1], [0, 1, 1], LABELS)
    assert metrics["f1_hap"] == pytest.approx(2 / 3)
    assert metrics["f1_sad"] == pytest.approx(2 / 3)
    assert metrics["f1_neu"] == 0.0


def test_compute_metrics_on_trainer_padded_logits():
    # two eval batches of different N, concatenated by the Trainer with -100 padding in logits and labels
    logits = np.full((3, 4, 3), -100.0)
    labels = np.full((3, 4), -100)
    logits[0, :4] = np.eye(3)[[0, 1, 2, 2]] * 5
    labels[0, :4] = [0, 1, 2, 1]
    logits[1:, :2] = np.eye(3)[[[1, 0], [2, 2]]] * 5
    labels[1:, :2] = [[1, 0], [2, 2]]
    metrics = make_compute_metrics(LABELS)(EvalPrediction(predictions=logits, label_ids=labels))
    assert metrics["num_utterances"] == 8
    assert metrics["accuracy"] == pytest.approx(7 / 8)
    assert {"weighted_f1", "macro_f1", "f1_hap", "f1_sad", "f1_neu"} <= set(metrics)


def test_compute_metrics_accepts_tuple_predictions_and_names_classes_by_id_without_labels():
    logits = np.eye(2)[[[0, 1]]]
    metrics = compute_metrics(EvalPrediction(predictions=(logits,), label_ids=np.array([[0, 1]])))
    assert metrics["accuracy"] == 1.0 and metrics["f1_0"] == 1.0 and metrics["f1_1"] == 1.0


def test_all_unlabelled_raises():
    with pytest.raises(ValueError, match="no labelled utterance"):
        emotion_metrics([0, 1], [-100, -100])


def test_evaluate_module_loads_offline_and_matches_compute_metrics():
    import evaluate

    metric = evaluate.load(EVALUATE_METRIC_PATH)
    predictions, references = [0, 2, 1, 1, 0, 2], [0, 1, 1, 1, 2, -100]
    result = metric.compute(predictions=predictions, references=references, label_names=list(LABELS.values()))
    assert result == pytest.approx(emotion_metrics(predictions, references, LABELS))

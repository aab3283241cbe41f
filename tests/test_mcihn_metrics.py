"""MMSA-convention sentiment metrics, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from mcn_cl.metrics_mcihn import make_sentiment_metrics, sentiment_metrics


def test_mosi_acc2_excludes_zero_gold_scores_and_has0_counts_them():
    predictions = [1.2, -0.4, 0.3, -2.9, 0.1]
    references = [2.0, -1.0, 0.0, -3.0, -0.2]
    m = sentiment_metrics(predictions, references, "mosi")
    assert m["acc_2"] == pytest.approx(3 / 4)  # utterance 2 (gold 0) left out; utterance 4 wrong
    assert m["has0_acc_2"] == pytest.approx(4 / 5)  # gold 0 counts as non-negative: 0.3 >= 0 right
    assert m["acc_7"] == pytest.approx(3 / 5)  # rounded: 1 vs 2, -0 vs -1, 0 = 0, -3 = -3, 0 = -0
    assert m["acc_5"] == pytest.approx(3 / 5)  # clipped to [-2, 2] first: -2.9 -> -2 = -3 -> -2
    assert m["mae"] == pytest.approx(np.mean(np.abs(np.subtract(predictions, references))))
    assert m["corr"] == pytest.approx(np.corrcoef(predictions, references)[0, 1])


def test_sims_classes_follow_mmsa_boundaries():
    # (-1, -0.7], (-0.7, -0.1], (-0.1, 0.1], (0.1, 0.7], (0.7, 1]; two classes split at 0 (0 is negative)
    references = [-0.8, -0.1, 0.0, 0.1, 0.8]
    predictions = [-0.7, -0.2, 0.05, 0.2, 1.4]
    m = sentiment_metrics(predictions, references, "sims")
    assert m["acc_2"] == pytest.approx(4 / 5)  # gold 0.0 is in the negative class, 0.05 is not
    assert m["acc_3"] == pytest.approx(4 / 5)  # gold 0.1 is neutral (<= 0.1), 0.2 is not
    assert m["acc_5"] == pytest.approx(4 / 5)  # -0.7 is in the lowest class with -0.8; 1.4 is clipped to 1
    assert m["f1"] == pytest.approx(0.8)  # both classes: F1 0.8


def test_bad_inputs_are_errors_and_the_trainer_hook_reads_logits():
    with pytest.raises(ValueError, match="dataset must be one of"):
        sentiment_metrics([0.0], [0.0], "mosei")
    with pytest.raises(ValueError, match="NaN"):
        sentiment_metrics([np.nan], [0.0])

    class Prediction:
        predictions = np.array([[1.0], [-1.0]])
        label_ids = np.array([2.0, 1.0])

    assert make_sentiment_metrics("mosi")(Prediction())["acc_2"] == pytest.approx(0.5)


def test_sims_mae_and_corr_use_predictions_and_labels_clipped_to_unit_range_as_mmsa():
    # MMSA __eval_sims_regression clips both to [-1, 1] before MAE / Corr: [1.5, -0.5, 0.2] -> [1.0, -0.5, 0.2]
    m = sentiment_metrics([1.5, -0.5, 0.2], [1.0, -0.4, 0.3], "sims")
    assert m["mae"] == pytest.approx((0.0 + 0.1 + 0.1) / 3)  # unclipped it would be 0.2333
    # Pearson of [1.0, -0.5, 0.2] and [1.0, -0.4, 0.3], worked by hand: means 0.2333 / 0.3;
    # deviations (0.7667, -0.7333, -0.0333) and (0.7, -0.7, 0.0): cov 1.05 / sqrt(1.1267 * 0.98)
    assert m["corr"] == pytest.approx(1.05 / np.sqrt(1.126667 * 0.98), abs=1e-4)
    assert sentiment_metrics([1.5, -0.5], [1.0, -0.4], "sims")["mae"] == pytest.approx(0.05)


def test_mosi_mae_and_corr_stay_unclipped_as_mmsa():
    # MMSA __eval_mosei_regression: MAE / Corr on the raw scores, only Acc-7 / Acc-5 clip
    m = sentiment_metrics([4.0, -1.0, 0.5], [3.0, -1.0, 1.0], "mosi")
    assert m["mae"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    assert m["acc_7"] == pytest.approx(2 / 3)  # 4.0 -> 3 = 3; -1 = -1; round(0.5) = 0 != 1

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""`evaluate` metric module of mcn-cl: weighted F1 (headline), macro F1, accuracy and per-class F1 for emotion
recognition in conversation. Load it from its local path, no Hub access needed:

    >>> import evaluate
    >>> from mcn_cl.metrics_mcn_cl import EVALUATE_METRIC_PATH
    >>> metric = evaluate.load(EVALUATE_METRIC_PATH)
    >>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0], label_names=["hap", "sad"])

The numbers come from `mcn_cl.metrics_mcn_cl.emotion_metrics`, the one implementation shared with the Trainer.
"""

import datasets
import evaluate

from mcn_cl.metrics_mcn_cl import emotion_metrics

_DESCRIPTION = """
Emotion recognition in conversation metrics over utterance-level predictions: weighted F1 (the headline number of
the MCN-CL paper), macro F1, accuracy and one F1 per class (`f1_<label>`). References below 0 (-100 padding, -1
unlabelled) are ignored.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted class ids, one per utterance.
    references (`list` of `int`): gold class ids; negative ids are ignored.
    label_names (`list` of `str`, *optional*): class names in id order, for the `f1_<label>` keys.
Returns:
    weighted_f1, macro_f1, accuracy (fractions in [0, 1]), num_utterances, and f1_<label> per class.
Examples:
    >>> metric = evaluate.load(EVALUATE_METRIC_PATH)
    >>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0], label_names=["hap", "sad"])["accuracy"]
    0.6666666666666666
"""

_CITATION = """
@misc{mcn_cl,
  title = {MCN-CL: Multimodal Cross-Attention Network and Contrastive Learning for Multimodal Emotion Recognition},
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class McnClEmotionF1(evaluate.Metric):
    """Weighted / macro / per-class F1 and accuracy of utterance-level emotion predictions."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
            reference_urls=[
                "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.f1_score.html"
            ],
        )

    def _compute(self, predictions, references, label_names=None):
        return emotion_metrics(predictions, references, label_names)

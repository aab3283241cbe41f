# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The `"multimodal-sentiment-analysis"` pipeline: one utterance (text, speech, face video) in, a sentiment score and
its polarity out, with an MCIHN model.

```python
>>> from transformers import pipeline

>>> analyser = pipeline("multimodal-sentiment-analysis", model="path/to/checkpoint", trust_remote_code=True)
>>> analyser({"text": "I loved this movie", "audio": "clip.mp4", "video": "clip.mp4"})
{'score': 1.84, 'polarity': 'positive'}
```

Like the MCN-CL pipeline, this file travels to the Hub (`mcn_cl.hub_mcihn.save_mcihn_for_hub` copies it next to the
weights and writes `custom_pipelines` into `config.json`): it imports only public libraries and its sibling
`pipeline_base.py` (the shared `ProcessorPipeline`, copied with it), and reaches the processor's code through the
processor object. The package registers it in `mcn_cl.registration`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from transformers.utils import logging

# Same-folder import: `save_pretrained` copies pipeline_base.py next to this file in a Hub folder.
from .pipeline_base import ON_ERROR, ProcessorPipeline

logger = logging.get_logger(__name__)

TASK = "multimodal-sentiment-analysis"


def _collate_utterances(items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Keeps the utterances unpadded: `_forward` pads them together with the processor's `pad_utterances`."""
    return {"features": [item["features"] for item in items], "skipped": [item["skipped"] for item in items]}


class MultimodalSentimentAnalysisPipeline(ProcessorPipeline):
    r"""
    Utterance-level sentiment analysis with an MCIHN model ([`MCIHNForMultimodalSentiment`] and its
    [`MCIHNProcessor`]).

    Input: one utterance dict in the processor's format (`text`, `audio`, `video`, `start`, `end`, or precomputed
    `text_features` / `audio_features` / `visual_features`), or a list of them (batched with `batch_size`). A gold
    `label` in the input is ignored.

    Output per utterance:

    - regression checkpoints (`num_labels=1`): `{"score": float, "polarity": "positive" | "negative" | "neutral"}`;
      the polarity is the sign of the score, `"neutral"` when `|score| <= neutral_band`;
    - classification checkpoints: `{"label": str, "score": float, "scores": {label: probability}}`.

    With `on_error="mask"` an utterance that lost a modality also has `"skipped": ["audio", ...]`.

    Args (at construction or per call):
        neutral_band (`float`, *optional*, defaults to 0.0): scores within this distance of 0 are `"neutral"`.
        on_error (`str`, *optional*, defaults to `"raise"`): `"raise"` or `"mask"` (see [`MCIHNProcessor`]).
    """

    processor_name, processor_method = "MCIHNProcessor", "prepare_utterance"
    collate_fn = staticmethod(_collate_utterances)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the processor reads each medium the way this model takes it (waveform only with a speech tower, ...), and
        # checks feature sizes and labels against it
        if hasattr(self.processor, "configure_for_model"):
            self.processor.configure_for_model(self.model.config)

    def _processor_function(self, name: str):
        """A module-level helper of the processor's own file (with `trust_remote_code`, the copy saved with it)."""
        return getattr(sys.modules.get(type(self.processor).__module__), name, None)

    def _sanitize_parameters(self, neutral_band: float | None = None, on_error: str | None = None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(kwargs)}")
        preprocess_params, postprocess_params = {}, {}
        if on_error is not None:
            if on_error not in ON_ERROR:
                raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
            preprocess_params["on_error"] = on_error
        if neutral_band is not None:
            if not neutral_band >= 0:
                raise ValueError(f"neutral_band must be >= 0, got {neutral_band!r}")
            postprocess_params["neutral_band"] = float(neutral_band)
        return preprocess_params, {}, postprocess_params

    def __call__(self, inputs, **kwargs):
        """Analyse one utterance (returns one dict) or a list of utterances (returns a list of dicts)."""
        if isinstance(inputs, Mapping):
            return super().__call__([inputs], **kwargs)[0]
        if (
            inputs is None
            or isinstance(inputs, str | bytes | list | tuple)
            or not isinstance(inputs, Iterable)
        ):
            check = self._processor_function("check_utterance_list")
            if check is not None:
                check(inputs)  # MCNCLInputError: None, [], not a list, a non-dict inside
            inputs = list(inputs)
        return super().__call__(inputs, **kwargs)

    def preprocess(self, utterance, on_error: str = "raise") -> dict[str, Any]:
        utterance = dict(utterance)
        utterance.pop("label", None)
        utterance.pop("labels", None)
        features = self.processor.prepare_utterance(utterance, on_error=on_error)
        check_usable = self._processor_function("check_usable")
        if check_usable is not None:
            check_usable(features)  # MCNCLInputError: no usable modality left
        elif not features["modality_mask"].any():
            raise ValueError("utterance has no usable modality")
        skipped = [e["modality"] for e in features["media_errors"]]
        if skipped:
            logger.warning("predicting from the remaining modalities; skipped %s", skipped)
        return {"features": features, "skipped": skipped}

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        batch = self.processor.pad_utterances(model_inputs["features"])
        batch.pop("labels", None)
        dtype = self.model.dtype
        inputs = {
            key: value.to(self.device, dtype=dtype if value.is_floating_point() else value.dtype)
            for key, value in batch.items()
        }
        logits = self.model(**inputs).logits
        # "logits" first: the base class reads the batch size from the first entry
        return {"logits": logits.float(), "skipped": model_inputs["skipped"]}

    def postprocess(self, model_outputs: dict[str, Any], neutral_band: float = 0.0) -> dict[str, Any]:
        skipped = model_outputs["skipped"]
        skipped = skipped[0] if skipped and isinstance(skipped[0], list) else skipped
        logits = model_outputs["logits"].reshape(-1)
        if logits.numel() == 1:
            score = float(logits[0])
            polarity = "neutral" if abs(score) <= neutral_band else ("positive" if score > 0 else "negative")
            result = {"score": score, "polarity": polarity}
        else:
            probs = logits.softmax(-1)
            id2label = self.model.config.id2label
            order = probs.argsort(descending=True).tolist()
            result = {
                "label": id2label[order[0]],
                "score": float(probs[order[0]]),
                "scores": {id2label[i]: float(probs[i]) for i in order},
            }
        if skipped:
            result["skipped"] = list(skipped)
        return result


__all__ = ["MultimodalSentimentAnalysisPipeline", "TASK"]

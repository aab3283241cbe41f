# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The `"multimodal-emotion-recognition"` pipeline: whole conversations of raw files in, one emotion per utterance out.

```python
>>> from transformers import pipeline

>>> classifier = pipeline("multimodal-emotion-recognition", model="path/to/checkpoint", trust_remote_code=True)
>>> classifier([
...     {"speaker": "Ann", "text": "We won the game!", "audio": "utt0.wav", "video": "utt0.mp4"},
...     {"speaker": "Ben", "text": "I know.", "audio": "utt1.wav", "video": "utt1.mp4"},
... ])
[{'utterance': 0, 'speaker': 'Ann', 'label': 'joy', 'score': 0.91, 'scores': {'joy': 0.91, ...}}, ...]
```

This file travels to the Hub: `save_for_hub` (`mcn_cl.hub_base`) / `Pipeline.save_pretrained` copy it, with its
same-folder base `pipeline_base.py`, next to the weights and write `custom_pipelines` into `config.json`, so that
`pipeline(..., trust_remote_code=True)` loads it in an interpreter without `mcn_cl`. It therefore imports only
public libraries and its sibling `pipeline_base.py`, and reaches the processor's code through the processor object
(`AutoProcessor` loads the processor files saved in the same folder). The package registers it with
`PIPELINE_REGISTRY` in `mcn_cl.registration`, not here, so that loading it as remote code changes no registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers.utils import logging

# Same-folder import: `save_pretrained` copies pipeline_base.py next to this file in a Hub folder.
from .pipeline_base import MEDIA_ALIASES, MODALITY_KEYS, ON_ERROR, ProcessorPipeline, input_error

logger = logging.get_logger(__name__)

TASK = "multimodal-emotion-recognition"


def _is_utterance_list(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and all(isinstance(u, Mapping) for u in value)
    )


def _is_conversation(value: Any) -> bool:
    """One conversation: a list of utterance dicts, or a dict with an `utterances` list (a loader row)."""
    if isinstance(value, Mapping):
        return "utterances" in value
    return _is_utterance_list(value) and not any("utterances" in u for u in value)


def _collate_conversations(items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Keeps the dialogues unpadded: `_forward` pads them together with the processor's `pad_dialogues`."""
    return {"dialogues": [item["dialogue"] for item in items], "meta": [item["meta"] for item in items]}


class MultimodalEmotionRecognitionPipeline(ProcessorPipeline):
    r"""
    Emotion recognition in conversation with an MCN-CL model ([`MCNCLForEmotionRecognition`] and its
    [`MCNCLProcessor`]): every utterance of a conversation gets an emotion, predicted from its text, speech and face
    video and from the rest of the conversation.

    Input: one conversation, or a list of conversations (batched with `batch_size`). A conversation is a list of
    utterance dicts in the processor's format (`text`, `speaker`, `audio`, `video`, `start`, `end`, ... with media as
    file paths or arrays; see [`MCNCLProcessor`]), or a dict with such a list under `utterances` (a loader row of
    `mcn_cl.datasets_scripts`, whose `audio_path` / `video_path` are read as `audio` / `video`; its `dialogue_id`
    names the conversation in messages). Gold `label`s in the input are ignored.

    Output, per conversation: one dict per utterance, in order:
    `{"utterance": i, "speaker": str | None, "label": str, "score": float, "scores": {label: probability}}`, `scores`
    sorted by probability (the `top_k` most likely labels; all by default). With `on_error="mask"`, an utterance
    that lost a modality also has `"skipped": ["audio", ...]`.

    Args (at construction or per call):
        top_k (`int`, *optional*): number of labels kept in `scores` (default: all).
        on_error (`str`, *optional*, defaults to `"raise"`): what to do with a missing / unreadable / corrupt medium.
            `"raise"`: an error naming the utterance and the file; `"mask"`: that modality of that utterance is
            skipped (the model predicts from the modalities that remain) and a warning names what was skipped.
            An utterance left without any modality and an empty conversation are errors in both modes.
        batch_size (`int`, *optional*, defaults to 1): conversations per forward pass.
        frame_batch_size (`int`, *optional*, defaults to 64): face frames per forward pass of the model's frozen
            frame backbone (ResNet-101). The real frames of all utterances of the batch are run in chunks of this
            size under `torch.inference_mode`, padded frames and utterances without video are skipped.
        device: as for every pipeline (`device=0` for the first GPU, `-1` or `"cpu"` for the CPU).

    The model is put in evaluation mode (no dropout): a batch of conversations gives the same predictions as one
    conversation at a time.
    """

    processor_name, processor_method = "MCNCLProcessor", "prepare_dialogue"
    collate_fn = staticmethod(_collate_conversations)

    # ------------------------------------------------------------------------------------------------ parameters

    def _sanitize_parameters(
        self,
        top_k: int | None = None,
        on_error: str | None = None,
        frame_batch_size: int | None = None,
        **kwargs,
    ):
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(kwargs)}")
        preprocess_params, forward_params, postprocess_params = {}, {}, {}
        if frame_batch_size is not None:
            if (
                isinstance(frame_batch_size, bool)
                or not isinstance(frame_batch_size, int)
                or frame_batch_size < 1
            ):
                raise ValueError(f"frame_batch_size must be a positive integer, got {frame_batch_size!r}")
            forward_params["frame_batch_size"] = frame_batch_size
        if on_error is not None:
            if on_error not in ON_ERROR:
                raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
            preprocess_params["on_error"] = on_error
        if top_k is not None:
            if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
            postprocess_params["top_k"] = top_k
        return preprocess_params, forward_params, postprocess_params

    def _input_error(self):
        """The processor's `MCNCLInputError` (see `pipeline_base.input_error`)."""
        return input_error(self.processor)

    def __call__(self, inputs, **kwargs):
        """Classify every utterance of one conversation (returns a list of utterance dicts) or of a list of
        conversations (returns a list of such lists). See the class docstring for the formats and options.

        Raises `MCNCLInputError` (a `ValueError`) for a structurally invalid input: not a conversation or a list
        of them, an empty conversation, an utterance that is not a dict or has none of text / audio / video (or,
        with `on_error="mask"`, none left)."""
        error = self._input_error()
        if isinstance(inputs, str | bytes) or not isinstance(inputs, Iterable | Mapping):
            raise error(
                "expected a conversation (a list of utterance dicts, or a dict with 'utterances') or a list of "
                f"them, got {type(inputs).__name__}",
                "inputs",
            )
        if isinstance(inputs, Sequence) and len(inputs) == 0:
            raise error(
                "empty conversation: give at least one utterance (a dict with text, audio or video)", "inputs"
            )
        if isinstance(inputs, Mapping) and not isinstance(inputs.get("utterances"), Sequence):
            raise error("a conversation dict needs an 'utterances' list", "utterances")
        one = _is_conversation(inputs) or (
            isinstance(inputs, Sequence)
            and any(isinstance(u, Mapping) and "utterances" not in u for u in inputs)
        )  # a list holding utterance dicts is one conversation: the processor names a bad utterance in it
        if one:
            return super().__call__([inputs], **kwargs)[0]
        if not isinstance(inputs, Sequence):  # a generator or a `datasets.Dataset`: checked item by item
            return super().__call__(inputs, **kwargs)
        if not all(_is_conversation(c) for c in inputs):
            bad = next(i for i, c in enumerate(inputs) if not _is_conversation(c))
            raise error(
                f"input {bad}: expected a conversation (a list of utterance dicts, or a dict with 'utterances'), "
                f"got {type(inputs[bad]).__name__}",
                "inputs",
            )
        return super().__call__(list(inputs), **kwargs)

    # ------------------------------------------------------------------------------------------------ the steps

    def preprocess(self, conversation, on_error: str = "raise") -> dict[str, Any]:
        error = self._input_error()
        dialogue_id = None
        if isinstance(conversation, Mapping):
            dialogue_id = conversation.get("dialogue_id")
            conversation = conversation["utterances"]
        dialogue_id = None if dialogue_id is None else str(dialogue_id)
        name = f"conversation {dialogue_id}" if dialogue_id is not None else "conversation"
        if isinstance(conversation, str | bytes | Mapping) or not isinstance(conversation, Sequence):
            raise error(
                f"a conversation is a list of utterance dicts, got {type(conversation).__name__}",
                "conversation",
                None,
                dialogue_id,
            )
        if len(conversation) == 0:
            raise error(
                f"empty {name}: give at least one utterance (a dict with text, audio or video)",
                "conversation",
                None,
                dialogue_id,
            )
        utterances = []
        for i, u in enumerate(conversation):
            if not isinstance(u, Mapping):
                raise error(
                    f"expected an utterance dict, got {type(u).__name__}", "utterance", i, dialogue_id
                )
            u = dict(u)
            for alias, key in MEDIA_ALIASES.items():
                value = u.pop(alias, None)
                if u.get(key) is None and value is not None:
                    u[key] = value
            u.pop("label", None)  # gold labels play no part in inference (and may be names, not ids)
            if all(u.get(key) is None for key in MODALITY_KEYS.values()):
                raise error(
                    "no modality: give at least one of 'text', 'audio', 'video'", None, i, dialogue_id
                )
            utterances.append(u)

        dialogue = self.processor.prepare_dialogue(utterances, on_error=on_error, dialogue_id=dialogue_id)
        dialogue.pop("labels", None)
        skipped = dialogue.get("media_errors", [])
        present = np.asarray(dialogue["modality_mask"]).sum(axis=1)
        for i in np.flatnonzero(present == 0):
            reasons = "; ".join(e["reason"] for e in skipped if e["utterance"] == i)
            raise error(
                f"no modality left: every input of the utterance was skipped ({reasons})",
                None,
                int(i),
                dialogue_id,
            )
        if skipped:
            logger.warning(
                "%s: predicting from the remaining modalities; skipped %s",
                name,
                "; ".join(f"{e['modality']} of utterance {e['utterance']} ({e['reason']})" for e in skipped),
            )
        meta = {
            "speakers": [u.get("speaker") for u in utterances],
            "skipped": [
                [e["modality"] for e in skipped if e["utterance"] == i] for i in range(len(utterances))
            ],
        }
        return {"dialogue": dialogue, "meta": meta}

    def _pad_dialogues(self, dialogues: list[dict[str, Any]]):
        # the processor's own method: the package's, or with `trust_remote_code` the copy saved next to the weights
        if not hasattr(self.processor, "pad_dialogues"):
            raise TypeError(f"{type(self.processor).__name__} has no pad_dialogues: use an MCNCLProcessor")
        return self.processor.pad_dialogues(dialogues)

    def get_inference_context(self):
        return torch.inference_mode

    def _frame_features(self, inputs: dict[str, torch.Tensor], frame_batch_size: int) -> None:
        """Replace `pixel_values` [B, N, L, 3, H, W] by `visual_features` [B, N, L, D] in place: the model's frozen
        frame backbone over the real frames of the utterances that have video, `frame_batch_size` at a time."""
        backbone = self.model.get_visual_backbone() if hasattr(self.model, "get_visual_backbone") else None
        pixel_values = inputs.get("pixel_values")
        if backbone is None or pixel_values is None:
            return
        batch, num_utt, num_frames = pixel_values.shape[:3]
        real = inputs.get(
            "frame_mask", torch.ones(batch, num_utt, num_frames, device=pixel_values.device)
        ).bool()
        if "modality_mask" in inputs:
            real = real & inputs["modality_mask"][..., 2:3].bool()
        if "utterance_mask" in inputs:
            real = real & inputs["utterance_mask"][..., None].bool()
        index = real.flatten().nonzero().squeeze(-1)
        frames = pixel_values.flatten(0, 2)
        backbone.eval()
        encoded = [backbone(frames[chunk]) for chunk in index.split(frame_batch_size)]
        size = encoded[0].shape[-1] if encoded else backbone.fc.out_features
        features = frames.new_zeros(batch * num_utt * num_frames, size)
        if encoded:
            features[index] = torch.cat(encoded).to(features.dtype)
        inputs.pop("pixel_values")
        inputs["visual_features"] = features.view(batch, num_utt, num_frames, size)

    def _forward(self, model_inputs: dict[str, Any], frame_batch_size: int = 64) -> dict[str, Any]:
        batch = self._pad_dialogues(model_inputs["dialogues"])
        batch.pop("labels", None)
        dtype = self.model.dtype
        inputs = {
            key: value.to(self.device, dtype=dtype if value.is_floating_point() else value.dtype)
            for key, value in batch.items()
        }
        self._frame_features(inputs, frame_batch_size)
        logits = self.model(**inputs).logits
        # "logits" first: the base class reads the batch size from the first entry
        return {"logits": logits.float(), "meta": model_inputs["meta"]}

    def postprocess(self, model_outputs: dict[str, Any], top_k: int | None = None) -> list[dict[str, Any]]:
        meta = model_outputs["meta"]
        meta = meta[0] if isinstance(meta, list) else meta  # batch of one, or one item of an unrolled batch
        num_utterances = len(meta["speakers"])
        probs = model_outputs["logits"][0, :num_utterances].softmax(-1)
        id2label = self.model.config.id2label
        k = probs.shape[-1] if top_k is None else min(top_k, probs.shape[-1])
        top = probs.topk(k, dim=-1)
        results = []
        for i in range(num_utterances):
            ids, values = top.indices[i].tolist(), top.values[i].tolist()
            scores = {id2label[j]: float(p) for j, p in zip(ids, values)}
            result = {
                "utterance": i,
                "speaker": meta["speakers"][i],
                "label": id2label[ids[0]],
                "score": float(values[0]),
                "scores": scores,
            }
            if meta["skipped"][i]:
                result["skipped"] = meta["skipped"][i]
            results.append(result)
        return results


__all__ = ["MultimodalEmotionRecognitionPipeline", "TASK"]

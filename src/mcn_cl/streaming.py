# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Online emotion recognition: one utterance in, its emotion out, from the past of the conversation only.

```python
>>> from mcn_cl import MCNCLForEmotionRecognition, MCNCLProcessor, MCNCLStreamingSession

>>> model = MCNCLForEmotionRecognition.from_pretrained("runs/demo_causal")  # trained with "causal": true
>>> processor = MCNCLProcessor.from_pretrained("runs/demo_causal")
>>> session = MCNCLStreamingSession(model, processor, on_error="mask")
>>> session.add({"speaker": "Ann", "text": "We won the game!", "audio": "utt0.wav", "video": "utt0.mp4"})
{'utterance': 0, 'speaker': 'Ann', 'label': 'joy', 'score': 0.91, 'scores': {...}, 'modalities': [...], ...}
>>> session.add({"speaker": "Ben", "text": "I know.", "audio": "utt1.wav", "video": "utt1.mp4"})
{'utterance': 1, 'speaker': 'Ben', ...}
```

The session processes each utterance with the processor (the same per-utterance reading as the pipeline, under
the same `on_error` contract) and feeds it to the model's stream (`model.init_stream()`), which keeps the recurrent
states and the past keys / values: one utterance costs one step, not a re-run of the conversation so far. A step
still grows with the conversation (utterance i attends to its i past utterances: O(i) time and cached memory per
step by design; figures in BENCHMARKS.md, "Online mode").
Prediction i equals the causal model's prediction for utterance i over the whole conversation (and the
`"multimodal-emotion-recognition"` pipeline's on the conversation's first i + 1 utterances).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from transformers.utils import logging

from .processing.inputs_mcn_cl import (
    MEDIA_ALIASES,
    MODALITIES,
    MODALITY_KEYS,
    ON_ERROR,
    MCNCLInputError,
)

logger = logging.get_logger(__name__)

# the processor's name of the modality an error is about -> the modality
_ERROR_MODALITY = {"text": "text", "audio": "audio", "video": "visual", "visual": "visual"}


class MCNCLStreamingSession:
    r"""
    One live conversation with a causal MCN-CL model: [`add`] takes the next utterance and returns its prediction
    at once.

    Args:
        model ([`MCNCLForEmotionRecognition`]): a causal model (`config.causal=True`); a bidirectional model
            cannot stream (its prediction for an utterance depends on the utterances after it) and raises a
            `ValueError` saying so.
        processor ([`MCNCLProcessor`]): the model's processor.
        on_error (`str`, *optional*, defaults to `"raise"`): a missing / unreadable / corrupt medium raises an
            error naming the utterance and the file (`"raise"`), or masks that modality of that utterance with a
            warning (`"mask"`, the prediction then has `"skipped": [...]`). An utterance left without any modality
            is an `MCNCLInputError` in both modes (never a prediction from nothing), and the session stays where
            it was. Every prediction lists the modalities it was made from (`"modalities"`).
        top_k (`int`, *optional*): labels kept in each prediction's `scores` (default: all).
        modalities (`Sequence[str]`, *optional*): the modalities fed to the model at every step, among `"text"`,
            `"audio"`, `"visual"`. Default: all three (every modality the model reads). An utterance without one
            of them gets it zero-filled and masked, as the pipeline does for a whole conversation (the model
            treats a masked modality as an absent one, so the predictions equal the pipeline's). An utterance that
            brings a modality outside this set is refused (`MCNCLInputError` naming the utterance and the field),
            or under `on_error="mask"` that modality is skipped with a warning and listed in `"skipped"`.
        dialogue_id (`str`, *optional*): names the conversation in messages.

    A processor that puts conversation context into the text (`text_context_past`) gets the past utterances'
    texts, as the pipeline gives it the whole conversation; one that also reads following utterances
    (`text_context_future` without `text_context_past_only`) cannot stream (`ValueError`).

    Attributes:
        predictions (`list[dict]`): the predictions so far, in order.
        speakers (`dict[str, int]`): speaker name -> speaker index, by first appearance (the model's
            `speaker_ids`); an utterance without a speaker counts as the speaker `""`.
    """

    def __init__(
        self,
        model,
        processor,
        on_error: str = "raise",
        top_k: int | None = None,
        modalities: Sequence[str] | None = None,
        dialogue_id: str | None = None,
    ):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        if processor is None or not hasattr(processor, "prepare_dialogue"):
            raise TypeError(
                f"MCNCLStreamingSession needs the model's MCNCLProcessor, got {type(processor).__name__}"
            )
        if not hasattr(model, "init_stream"):
            raise TypeError(
                f"{type(model).__name__} has no init_stream(): load the model with an mcn-cl version that has "
                "online mode (a checkpoint's remote code from before it cannot stream)"
            )
        self.model = model.eval()
        self.processor = processor
        self.on_error = on_error
        self.top_k = top_k
        self.dialogue_id = dialogue_id
        self._fixed_modalities = MODALITIES if modalities is None else self._check_modalities(modalities)
        self._text_context_past = self._check_text_context()
        self._stream = model.init_stream(batch_size=1)  # ValueError for a bidirectional model
        self.reset()

    @staticmethod
    def _check_modalities(modalities: Iterable[str]) -> tuple[str, ...]:
        modalities = tuple(modalities)
        unknown = sorted(set(modalities) - set(MODALITIES))
        if unknown or not modalities:
            raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}, got {modalities!r}")
        return tuple(m for m in MODALITIES if m in modalities)

    def reset(self) -> None:
        """Start a new conversation: forget the past utterances, the speakers and the model's state."""
        self._stream.reset()
        self.predictions: list[dict[str, Any]] = []
        self.speakers: dict[str, int] = {}
        self.modalities: tuple[str, ...] = self._fixed_modalities
        # the past utterances' speakers and texts: the processor's conversation context in the text reads them
        self._history: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.predictions)

    # ---------------------------------------------------------------------------------------------- one step

    def _where(self, index: int) -> str:
        prefix = f"dialogue {self.dialogue_id}, " if self.dialogue_id is not None else ""
        return f"{prefix}utterance {index}"

    def _normalise(self, utterance: Any, index: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The utterance dict with the loaders' `audio_path` / `video_path` read as `audio` / `video` and without
        its gold label (labels play no part in inference), and under `on_error="mask"` the modalities outside the
        session's that it brings (removed from the dict), as `{"utterance", "modality", "reason"}`."""
        if not isinstance(utterance, Mapping):
            raise TypeError(f"{self._where(index)}: expected a dict, got {type(utterance).__name__}")
        u = dict(utterance)
        for alias, key in MEDIA_ALIASES.items():
            value = u.pop(alias, None)
            if u.get(key) is None and value is not None:
                u[key] = value
        u.pop("label", None)
        given = [m for m in MODALITIES if u.get(MODALITY_KEYS[m]) is not None]
        if not given:
            raise MCNCLInputError(
                "no modality: give at least one of 'text', 'audio', 'video'", None, index, self.dialogue_id
            )
        refused = []
        for m in given:
            if m not in self.modalities:
                field = MODALITY_KEYS[m]
                reason = (
                    f"the session feeds the model {'/'.join(self.modalities)} only (its `modalities`; "
                    f"--modalities of `mcn-cl stream`)"
                )
                if self.on_error == "raise":
                    raise MCNCLInputError(f"{reason}: this {m} is not read", field, index, self.dialogue_id)
                refused.append({"utterance": index, "modality": m, "reason": f"{field}: {reason}"})
                u[field] = None
        if refused and all(u.get(MODALITY_KEYS[m]) is None for m in MODALITIES):
            raise MCNCLInputError(
                f"no modality left: its {'/'.join(e['modality'] for e in refused)} is not read: "
                f"{refused[0]['reason']}",
                None,
                index,
                self.dialogue_id,
            )
        return u, refused

    def _prepare(
        self, u: dict[str, Any], index: int, modalities: tuple[str, ...], errors: list[dict[str, Any]]
    ) -> tuple[dict, list[dict]]:
        """The processor's dialogue features of this one utterance (`prepare_dialogue` on a conversation of one),
        with the media errors located at `index`; under `on_error="mask"` a failing modality is dropped and the
        utterance read again without it. With conversation context in the text (a processor with
        `text_context_past`), the tokens are the utterance's with the past utterances' texts before it."""
        errors = list(errors)
        media_errors = self.processor.media_error_classes()
        while True:
            try:
                # every session modality the utterance lacks is zero-filled and masked, as `prepare_dialogue`
                # fills a masked modality: every step feeds the model the same inputs
                features = self.processor.prepare_dialogue(
                    [u], on_error="raise", dialogue_id=self.dialogue_id, include_modalities=modalities
                )
                break
            except media_errors as err:
                located = err.at_utterance(index, self.dialogue_id)
                if self.on_error == "raise":
                    raise located from err
                modality = _ERROR_MODALITY.get(err.modality, err.modality)
                errors.append({"utterance": index, "modality": modality, "reason": str(located)})
                u = dict(u, **{MODALITY_KEYS[modality]: None})
                if all(u.get(MODALITY_KEYS[m]) is None for m in modalities):
                    reasons = "; ".join(e["reason"] for e in errors)
                    raise MCNCLInputError(
                        f"no modality left: every input was skipped ({reasons})",
                        None,
                        index,
                        self.dialogue_id,
                    ) from err
        if (
            self._text_context_past
            and features.get("modality_mask") is not None
            and features["modality_mask"][0][0]
        ):
            past = self._history[-self._text_context_past :]
            ids = self.processor.text_with_context([*past, u], len(past))
            features["input_ids"], features["attention_mask"] = [ids], [[1] * len(ids)]
        return features, errors

    def _check_text_context(self) -> int:
        """How many past utterances the processor puts into an utterance's text (0: none, or a processor without
        the option); a processor that also reads following utterances cannot stream."""
        if not getattr(self.processor, "uses_text_context", False):
            return 0
        future = getattr(self.processor, "context_future", 0)
        if future:
            raise ValueError(
                f"the processor puts {future} following utterance(s) into each utterance's text "
                "(text_context_future without text_context_past_only), which a live conversation does not have yet: "
                "stream with a processor saved with text_context_past_only=True (as the causal model was trained)"
            )
        return int(self.processor.text_context_past)

    def _speaker_id(self, speaker: Any, index: int) -> int:
        name = str(speaker) if speaker is not None else ""  # as `prepare_dialogue` names a missing speaker
        if name not in self.speakers:
            max_speakers = self.model.config.max_speakers
            if len(self.speakers) >= max_speakers:
                raise ValueError(
                    f"{self._where(index)}: speaker {name!r} would be speaker number {len(self.speakers) + 1}, but "
                    f"the model knows at most config.max_speakers={max_speakers} speakers per conversation "
                    f"(so far: {', '.join(repr(s) for s in self.speakers)})"
                )
            return len(self.speakers)
        return self.speakers[name]

    def add(self, utterance: Mapping[str, Any]) -> dict[str, Any]:
        """Classify the next utterance of the conversation.

        Args:
            utterance: a dict in the pipeline's format: any of `text`, `speaker`, `audio`, `video` (file paths or
                arrays), `start` / `end` (seconds), ... (see [`MCNCLProcessor`]); `audio_path` / `video_path` work
                as `audio` / `video`; a gold `label` is ignored.

        Returns:
            `{"utterance": i, "speaker": ..., "label": str, "score": float, "scores": {label: probability},
            "modalities": [...], "latency_s": float}` (`scores` sorted by probability, `top_k` of them;
            `modalities`: those the prediction was made from; `latency_s`: seconds from the call to the
            prediction, reading the media included), plus `"skipped": ["audio", ...]` when `on_error="mask"`
            masked a modality (unreadable, or outside the session's `modalities`). On an error the session is
            unchanged: fix the input and add it again.

        Raises:
            MCNCLInputError: the utterance has no usable modality, or (`on_error="raise"`) brings a modality
                outside the session's `modalities`.
            MCNCLMediaError: (`on_error="raise"`) a medium is missing, unreadable or corrupt.
        """
        started = time.perf_counter()
        index = len(self.predictions)
        u, refused = self._normalise(utterance, index)
        modalities = self.modalities
        features, errors = self._prepare(u, index, modalities, refused)
        if errors:
            logger.warning(
                "%s: predicting from the remaining modalities; skipped %s",
                self._where(index),
                "; ".join(f"{e['modality']} ({e['reason']})" for e in errors),
            )
        speaker_id = self._speaker_id(u.get("speaker"), index)
        features["speaker_ids"] = [speaker_id]
        batch = self.processor.pad_dialogues([features])
        for key in ("labels", "utterance_mask"):
            batch.pop(key, None)
        dtype, device = self.model.dtype, self.model.device
        inputs = {
            key: value.to(device, dtype=dtype if value.is_floating_point() else value.dtype)
            for key, value in batch.items()
        }
        with torch.no_grad():
            logits = self._stream.step(**inputs).logits  # [1, 1, K]

        # the step is taken: commit the session's state
        self.speakers.setdefault(str(u["speaker"]) if u.get("speaker") is not None else "", speaker_id)
        self._history.append({"speaker": u.get("speaker"), "text": u.get("text")})
        prediction = {"utterance": index, "speaker": u.get("speaker"), **self._scores(logits[0, 0])}
        used = features["modality_mask"][0]
        prediction["modalities"] = [m for m, on in zip(MODALITIES, used) if on]
        if errors:
            prediction["skipped"] = [e["modality"] for e in errors]
        prediction["latency_s"] = time.perf_counter() - started
        self.predictions.append(prediction)
        return prediction

    def _scores(self, logits: torch.Tensor) -> dict[str, Any]:
        probs = logits.float().softmax(-1)
        k = probs.shape[-1] if self.top_k is None else min(self.top_k, probs.shape[-1])
        top = probs.topk(k)
        id2label = self.model.config.id2label
        scores = {id2label[j]: float(p) for j, p in zip(top.indices.tolist(), top.values.tolist())}
        return {"label": id2label[int(top.indices[0])], "score": float(top.values[0]), "scores": scores}

    def extend(self, utterances: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """[`add`] each utterance in order; returns their predictions."""
        return [self.add(u) for u in utterances]


__all__ = ["MCNCLStreamingSession"]

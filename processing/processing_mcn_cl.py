# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCN-CL processor: conversations of raw utterances (text, audio, video) -> the model's padded tensors.

Two steps, following docs/data_formats.md:

* `MCNCLProcessor.prepare_dialogue(utterances)`: one conversation -> unpadded dialogue features (section 2);
* `pad_dialogues(features)` (sibling `padding_mcn_cl.py`): a list of dialogue features -> padded `[B, N, ...]`
  tensors with every mask (section 3). It is the one place where padding and masks are built; the training
  collator calls it too.

This file travels to the Hub next to the processor config (``save_pretrained`` copies it flat), so it imports
only its siblings (relative imports: they are copied into the same folder) and public libraries.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer, BatchFeature
from transformers.processing_utils import ProcessorMixin
from transformers.utils import logging

# relative imports: on the Hub these files sit in one folder, without the mcn_cl package
from .feature_extraction_mcn_cl import MCNCLFeatureExtractor
from .inputs_mcn_cl import MODALITIES, MODALITY_KEYS, ON_ERROR, MCNCLInputError, MCNCLMediaError, as_seconds
from .padding_mcn_cl import check_label, pad_dialogues
from .video_processing_mcn_cl import MCNCLVideoProcessor

logger = logging.get_logger(__name__)

# the keys of an utterance dict (class docstring); any other key is named in a warning
UTTERANCE_KEYS = frozenset(
    {
        "text",
        "speaker",
        "label",
        "audio",
        "video",
        "sampling_rate",
        "start",
        "end",
        "audio_start",
        "audio_end",
        "video_crop",
        "utterance_id",
    }
)
# --------------------------------------------------------------------------------------------------- processor


class MCNCLProcessor(ProcessorMixin):
    r"""
    Constructs an MCN-CL processor: a tokenizer (text), an [`MCNCLFeatureExtractor`] (openSMILE audio) and an
    [`MCNCLVideoProcessor`] (face frames) turning whole conversations into the model's inputs.

    A conversation is a list of utterance dicts, each with any of:

    - `text` (`str`), `speaker` (`str`), `label` (`int` class id; -1, -100 or `None` = unlabelled);
    - `audio`: a file path (wav/flac, or the audio track of mp4/avi/...), a waveform `np.ndarray` with
      `sampling_rate` (Hz) in the utterance, or a dict `{"array", "sampling_rate"}`;
    - `video`: a file path, or the utterance's frames as a uint8 array [F, H, W, 3];
    - `start`, `end`: the turn's window in seconds inside the *video* file (IEMOCAP: one AVI per dialogue). The
      window also cuts the audio when the audio is read from the same file as the video (MELD clips); give
      `audio_start` / `audio_end` to window an audio input explicitly;
    - `video_crop`: `"left"` / `"right"` half of the frame for this utterance (overrides the video processor's
      `crop_half`).

    A modality missing from an utterance (key absent or `None`) is zero-filled with `modality_mask` 0; a modality
    absent from every utterance of the batch is left out of the output. Other keys are ignored, with a warning
    naming them.

    Errors: a structurally invalid conversation (not a non-empty list of dicts, a label that is not a class id)
    raises `MCNCLInputError`; a medium, window, rate or text that cannot be used raises `MCNCLMediaError`, or with
    `on_error="mask"` masks that modality of that utterance (one warning per dialogue lists what was masked).

    Args:
        tokenizer ([`PreTrainedTokenizerBase`]): the text encoder's tokenizer.
        feature_extractor ([`MCNCLFeatureExtractor`], *optional*): defaults to IS10 openSMILE functionals.
        video_processor ([`MCNCLVideoProcessor`], *optional*): defaults to 16 frames of 224x224.
        speaker_format (`str`, *optional*): template of the text fed to the tokenizer, with `{speaker}` and
            `{text}` fields, e.g. `"{speaker}: {text}"`. Default: the text alone.
        max_text_length (`int`, *optional*, defaults to 128): tokens per utterance (truncation).
        text_context_past (`int`, *optional*, defaults to 0): conversation context in the text (EmoBERTa / TelME
            style): each utterance's tokens also carry up to this many preceding utterances of its conversation.
            0 with `text_context_future` 0 (the default, the paper's setting): each utterance alone.
        text_context_future (`int`, *optional*, defaults to 0): as `text_context_past`, for following utterances.
        text_context_past_only (`bool`, *optional*, defaults to `False`): online / causal use: only past context
            (`text_context_future` is ignored), so an utterance's tokens never depend on what comes after it.

    With context, an utterance's token ids are `[CLS] past [SEP] target [SEP] future [SEP]` (the tokenizer's
    cls / sep tokens, or bos / eos; the final `[SEP]` only with future context): the target sits between the first
    two separators, each utterance is rendered with `speaker_format` (so `"{speaker}: {text}"` puts the speaker
    names in), the context utterances are concatenated in conversation order, and truncation to
    `max_text_length` cuts the context, farthest utterance first, before the target (`text_with_context`).

    Example:

    ```python
    >>> from mcn_cl import MCNCLProcessor

    >>> processor = MCNCLProcessor.from_pretrained("path/to/checkpoint")
    >>> conversation = [
    ...     {"text": "Where were you?", "speaker": "A", "audio": "utt0.wav", "video": "utt0.mp4"},
    ...     {"text": "Out.", "speaker": "B", "audio": "utt1.wav", "video": "utt1.mp4"},
    ... ]
    >>> inputs = processor(conversation)  # input_ids [1, 2, T], audio_features [1, 2, 1582], pixel_values ...
    ```
    """

    # the structural-input error of this processor's files (read by the pipeline, which travels to the Hub without
    # them and so cannot import it)
    input_error_class = MCNCLInputError

    def __init__(
        self,
        tokenizer=None,
        feature_extractor=None,
        video_processor=None,
        speaker_format: str | None = None,
        max_text_length: int = 128,
        text_context_past: int = 0,
        text_context_future: int = 0,
        text_context_past_only: bool = False,
        **kwargs,
    ):
        if tokenizer is None:
            raise ValueError(
                "MCNCLProcessor needs a tokenizer (e.g. AutoTokenizer.from_pretrained('roberta-base'))"
            )
        feature_extractor = feature_extractor if feature_extractor is not None else MCNCLFeatureExtractor()
        video_processor = video_processor if video_processor is not None else MCNCLVideoProcessor()
        if speaker_format is not None:
            try:
                speaker_format.format(speaker="S", text="T")
            except (KeyError, IndexError, ValueError) as err:
                raise ValueError(
                    f"MCNCLProcessor.speaker_format {speaker_format!r} may only use the fields {{speaker}} and {{text}}"
                ) from err
        self.speaker_format = speaker_format
        self.max_text_length = int(max_text_length)
        self.text_context_past = int(text_context_past)
        self.text_context_future = int(text_context_future)
        self.text_context_past_only = bool(text_context_past_only)
        super().__init__(tokenizer, feature_extractor, video_processor, **kwargs)
        self._check_text_context()

    @classmethod
    def from_text_encoder(
        cls, text_encoder: str | os.PathLike, feature_extractor=None, video_processor=None, **kwargs
    ) -> MCNCLProcessor:
        """A processor with the tokenizer of `text_encoder` (Hub id or local folder) and default (or given)
        audio / video components. `kwargs` go to the processor (`speaker_format`, `max_text_length`)."""
        tokenizer = AutoTokenizer.from_pretrained(text_encoder)
        return cls(tokenizer, feature_extractor, video_processor, **kwargs)

    @property
    def model_input_names(self) -> list[str]:
        return [
            "input_ids",
            "attention_mask",
            "audio_features",
            "pixel_values",
            "frame_mask",
            "speaker_ids",
            "utterance_mask",
            "modality_mask",
        ]

    # ------------------------------------------------------------------------------------------- one dialogue

    def media_error_classes(self) -> tuple[type[Exception], ...]:
        """`MCNCLMediaError` as raised by the components (catch these around `prepare_dialogue(on_error="raise")`). Loaded with `trust_remote_code=True`, each component
        comes from its own copy of the Hub files, whose `MCNCLMediaError` is a class distinct from this module's."""
        classes = {MCNCLMediaError}
        for component in (self.feature_extractor, self.video_processor):
            module = sys.modules.get(type(component).__module__)
            classes.add(getattr(module, "MCNCLMediaError", MCNCLMediaError))
        return tuple(classes)

    def format_text(self, text: str, speaker: str | None) -> str:
        """The text fed to the tokenizer (with the speaker prefix of `speaker_format`, if set)."""
        if self.speaker_format is None:
            return text
        return self.speaker_format.format(speaker=speaker if speaker is not None else "", text=text)

    # ------------------------------------------------------------------------------- conversation context in text

    def _check_text_context(self) -> None:
        for name in ("text_context_past", "text_context_future"):
            if getattr(self, name) < 0:
                raise ValueError(f"MCNCLProcessor.{name} must be >= 0, got {getattr(self, name)}")
        if not self.uses_text_context:
            return
        if self._context_special_ids() is None:
            raise ValueError(
                "MCNCLProcessor.text_context_past / _future need a tokenizer with cls and sep (or bos and eos) "
                f"tokens to mark the target utterance; {type(self.tokenizer).__name__} has none"
            )
        if self.max_text_length < 5:
            raise ValueError(
                f"MCNCLProcessor.max_text_length {self.max_text_length} leaves no room for text context (>= 5)"
            )

    @property
    def uses_text_context(self) -> bool:
        """Whether utterances carry conversation context in their tokens (`text_context_past` / `_future`)."""
        return self.text_context_past > 0 or self.context_future > 0

    @property
    def context_future(self) -> int:
        """Following utterances in an utterance's text: `text_context_future`, or 0 when `text_context_past_only`."""
        return 0 if self.text_context_past_only else self.text_context_future

    def _context_special_ids(self) -> tuple[int, int] | None:
        """(start, separator) token ids around the target: the tokenizer's cls / sep, else bos / eos."""
        tok = self.tokenizer
        start = tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id
        sep = tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
        return None if start is None or sep is None else (start, sep)

    def text_with_context(self, utterances: Sequence[Mapping[str, Any]], index: int) -> list[int]:
        """Token ids of utterance `index` with its conversation context: `[CLS] past [SEP] target [SEP] future
        [SEP]` (see the class docstring), at most `max_text_length` ids.

        The target keeps up to `max_text_length - 3` tokens (minus one more with future context); the context
        fills what is left, nearest utterance first, alternating past and future, so the farthest context is cut
        first (a past utterance keeps its end, a future one its beginning). Context utterances without a usable
        text (absent, not a string, blank) are skipped.
        """
        start, sep = self._context_special_ids()
        n = len(utterances)

        def tokens(k: int) -> list[int] | None:
            u = utterances[k]
            text = u.get("text") if isinstance(u, Mapping) else None
            if not isinstance(text, str) or not text.strip():
                return None
            formatted = self.format_text(text, u.get("speaker"))
            return list(self.tokenizer(formatted, add_special_tokens=False)["input_ids"])

        past, future = self.text_context_past, self.context_future
        has_future = future > 0 and index + 1 < n
        room = self.max_text_length - 3 - int(has_future)
        target = (tokens(index) or [])[:room]
        room -= len(target)
        before: list[list[int]] = []  # nearest first
        after: list[list[int]] = []
        for distance in range(1, max(past, future) + 1):
            for side, k, limit in (("past", index - distance, past), ("future", index + distance, future)):
                if room <= 0 or distance > limit or not 0 <= k < n:
                    continue
                ids = tokens(k)
                if not ids:
                    continue
                take = min(len(ids), room)
                room -= take
                if side == "past":
                    before.append(ids[len(ids) - take :])
                else:
                    after.append(ids[:take])
        ids = [start, *(t for ids in reversed(before) for t in ids), sep, *target, sep]
        if has_future:
            ids += [*(t for ids in after for t in ids), sep]
        return ids

    def _text_ids(
        self, i: int, u: Mapping[str, Any], utterances: Sequence[Mapping[str, Any]] | None = None
    ) -> list[int]:
        text = u.get("text")
        if not isinstance(text, str):
            raise MCNCLMediaError(f"text must be a string, got {type(text).__name__}", None, "text")
        if not text.strip():
            raise MCNCLMediaError("empty text", None, "text")
        if utterances is not None and self.uses_text_context:
            return self.text_with_context(utterances, i)
        encoded = self.tokenizer(
            self.format_text(text, u.get("speaker")), truncation=True, max_length=self.max_text_length
        )
        return list(encoded["input_ids"])

    def _audio(self, u: Mapping[str, Any]) -> np.ndarray:
        audio = u["audio"]
        fields = ("audio_start", "audio_end")
        same_file = isinstance(audio, str | os.PathLike) and isinstance(u.get("video"), str | os.PathLike)
        if u.get("audio_start") is None and u.get("audio_end") is None and same_file:
            if os.fspath(audio) == os.fspath(u["video"]):
                fields = ("start", "end")
        path = os.fspath(audio) if isinstance(audio, str | os.PathLike) else None
        start, end = (as_seconds(u.get(field), field, path, "audio") for field in fields)
        return self.feature_extractor.extract(audio, u.get("sampling_rate"), start, end)

    def _video(self, u: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        return self.video_processor.process_clip(
            u["video"], start=u.get("start"), end=u.get("end"), crop_half=u.get("video_crop")
        )

    @staticmethod
    def check_conversation(utterances: Any, dialogue_id: str | None = None) -> list[Mapping[str, Any]]:
        """The structural checks of one conversation (see `MCNCLInputError`): a non-empty list (or tuple) of
        utterance dicts. Unknown utterance keys (e.g. `"Audio"`) are named in one warning and otherwise ignored.

        Returns the utterances as a list. Raises `MCNCLInputError` naming the dialogue, the utterance and the field.
        """
        if isinstance(utterances, str | bytes | Mapping) or not isinstance(utterances, Sequence):
            raise MCNCLInputError(
                f"a conversation is a list of utterance dicts, got {type(utterances).__name__}",
                "conversation",
                None,
                dialogue_id,
            )
        if len(utterances) == 0:
            raise MCNCLInputError(
                "a conversation needs at least one utterance", "conversation", None, dialogue_id
            )
        unknown: dict[str, list[int]] = {}
        for i, u in enumerate(utterances):
            if not isinstance(u, Mapping):
                raise MCNCLInputError(
                    f"expected an utterance dict, got {type(u).__name__}", "utterance", i, dialogue_id
                )
            for key in u:
                if key not in UTTERANCE_KEYS:
                    unknown.setdefault(repr(key), []).append(i)
        if unknown:
            logger.warning(
                "dialogue %s: ignoring unknown utterance key(s) %s; known keys: %s",
                dialogue_id if dialogue_id is not None else "(no id)",
                ", ".join(
                    f"{k} (utterance {', '.join(map(str, v[:5]))}{', ...' if len(v) > 5 else ''})"
                    for k, v in unknown.items()
                ),
                ", ".join(sorted(UTTERANCE_KEYS)),
            )
        return list(utterances)

    def prepare_dialogue(
        self,
        utterances: Sequence[Mapping[str, Any]],
        on_error: str = "raise",
        dialogue_id: str | None = None,
        include_modalities: Sequence[str] = (),
    ) -> dict[str, Any]:
        """One conversation -> unpadded dialogue features (docs/data_formats.md, section 2).

        Args:
            utterances: the conversation's utterance dicts (see the class docstring).
            on_error: `"raise"`: bad input raises `MCNCLMediaError` naming the file and the utterance index;
                `"mask"`: that modality of that utterance is zero-filled, its `modality_mask` entry set to 0, the
                problem logged as a warning and listed in `media_errors`.
            dialogue_id: optional id, used in messages and kept in the output.
            include_modalities: modalities (among `MODALITIES`) to output even when no utterance has them,
                zero-filled and masked as a masked modality is, so that every call gives the model the same inputs
                (e.g. one utterance at a time in a live conversation, `mcn_cl.streaming`).

        Returns:
            dict with `speakers` [N], `labels` [N] (if any utterance has one; -100 = unlabelled),
            `modality_mask` [N, 3], `media_errors` (list of `{"utterance", "modality", "reason"}`), and for each
            modality present in the conversation: `input_ids` / `attention_mask` (ragged lists),
            `audio_features` float32 [N, D_a], `pixel_values` float32 [N, L, 3, H, W] with `frame_mask` [N, L].

        Raises:
            MCNCLInputError: (whatever `on_error`) the conversation is not a non-empty list of utterance dicts, or a
                label is not a class id (see `check_label`).
            MCNCLMediaError: (`on_error="raise"`) missing, unreadable or corrupt file, no audio / video stream,
                zero-length audio, window outside the clip or not a number, sampling rate outside
                [1 kHz, 384 kHz], non-finite samples, a frames array that is not uint8 [F, H, W, 3] with no zero
                size, an invalid `video_crop`, a text that is not a non-empty string.
        """
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        utterances = self.check_conversation(utterances, dialogue_id)
        n = len(utterances)
        labels = (
            [check_label(u.get("label"), i, dialogue_id) for i, u in enumerate(utterances)]
            if any("label" in u for u in utterances)
            else None
        )
        unknown = set(include_modalities) - set(MODALITIES)
        if unknown:
            raise ValueError(f"include_modalities must be among {MODALITIES}, got {sorted(unknown)}")
        wants = {
            modality: modality in include_modalities
            or any(u.get(MODALITY_KEYS[modality]) is not None for u in utterances)
            for modality in MODALITIES
        }
        modality_mask = np.zeros((n, 3), dtype=np.int64)
        errors: list[dict[str, Any]] = []
        text_ids: list[list[int] | None] = [None] * n
        audio: list[np.ndarray | None] = [None] * n
        video: list[dict[str, torch.Tensor] | None] = [None] * n
        readers = (
            ("text", "text", text_ids, lambda i, u: self._text_ids(i, u, utterances)),
            ("audio", "audio", audio, lambda i, u: self._audio(u)),
            ("video", "visual", video, lambda i, u: self._video(u)),
        )
        media_errors = self.media_error_classes()
        for i, u in enumerate(utterances):
            for key, modality, store, read in readers:
                if u.get(key) is None:
                    continue
                try:
                    store[i] = read(i, u)
                except media_errors as err:
                    located = err.at_utterance(i, dialogue_id)
                    if on_error == "raise":
                        raise located from err
                    errors.append({"utterance": i, "modality": modality, "reason": str(located)})
                    continue
                modality_mask[i, MODALITIES.index(modality)] = 1
        if errors:
            logger.warning(
                "masked %d input(s) of dialogue %s: %s",
                len(errors),
                dialogue_id if dialogue_id is not None else "(no id)",
                "; ".join(e["reason"] for e in errors),
            )

        out: dict[str, Any] = {}
        if dialogue_id is not None:
            out["dialogue_id"] = dialogue_id
        out["speakers"] = [str(u.get("speaker")) if u.get("speaker") is not None else "" for u in utterances]
        if labels is not None:
            out["labels"] = labels
        if wants["text"]:
            # a masked / absent text keeps a valid special-tokens-only sequence (attention never empty)
            empty = list(self.tokenizer("", truncation=True, max_length=self.max_text_length)["input_ids"])
            ids = [t if t is not None else empty for t in text_ids]
            out["input_ids"] = ids
            out["attention_mask"] = [[1] * len(t) for t in ids]
        if wants["audio"]:
            size = self.feature_extractor.feature_size
            out["audio_features"] = np.stack(
                [a if a is not None else np.zeros(size, dtype=np.float32) for a in audio]
            ).astype(np.float32)
        if wants["visual"]:
            ref = next((v for v in video if v is not None), None)
            if ref is None:  # every clip failed: zero frames of the configured size
                size = self.video_processor.size
                shape = (self.video_processor.num_frames, 3, size["height"], size["width"])
                ref = {
                    "pixel_values": torch.zeros(shape),
                    "frame_mask": torch.zeros(shape[0], dtype=torch.long),
                }
            out["pixel_values"] = np.stack(
                [
                    (v or {"pixel_values": torch.zeros_like(ref["pixel_values"])})["pixel_values"].numpy()
                    for v in video
                ]
            ).astype(np.float32)
            out["frame_mask"] = np.stack(
                [
                    (v or {"frame_mask": torch.zeros_like(ref["frame_mask"])})["frame_mask"].numpy()
                    for v in video
                ]
            ).astype(np.int64)
        out["modality_mask"] = modality_mask
        out["media_errors"] = errors
        return out

    # --------------------------------------------------------------------------------------------------- batch

    def pad_dialogues(self, features: Sequence[Mapping[str, Any]]) -> BatchFeature:
        """[`pad_dialogues`] with this tokenizer's pad id: dialogue features (e.g. from `prepare_dialogue`) ->
        padded `[B, N, ...]` tensors and masks. The pipeline pads through this method, so that with
        `trust_remote_code` it uses the copy of this file saved next to the weights."""
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        return pad_dialogues(features, pad_token_id=pad_id)

    def __call__(
        self,
        conversations: Sequence[Mapping[str, Any]] | Sequence[Sequence[Mapping[str, Any]]] | None = None,
        on_error: str = "raise",
        return_tensors: str | None = "pt",
        **kwargs,
    ) -> BatchFeature:
        """
        Args:
            conversations: one conversation (a list of utterance dicts) or a batch of them.
            on_error: `"raise"` or `"mask"` (see `prepare_dialogue`).
            return_tensors: `"pt"` (default) or `"np"`.

        Returns:
            `BatchFeature` with the padded tensors of docs/data_formats.md, section 3 ([B, N, ...]; B = 1 for
            one conversation).
        """
        if kwargs:
            raise TypeError(f"MCNCLProcessor.__call__ got unexpected arguments {sorted(kwargs)}")
        if isinstance(conversations, str | bytes | Mapping) or not isinstance(conversations, Sequence):
            raise MCNCLInputError(
                "MCNCLProcessor needs a conversation (a list of utterance dicts) or a list of them, got "
                f"{type(conversations).__name__}",
                "conversations",
            )
        if len(conversations) == 0:
            raise MCNCLInputError("received no conversation", "conversations")
        if isinstance(conversations[0], Mapping):
            conversations = [conversations]
        features = [self.prepare_dialogue(c, on_error=on_error) for c in conversations]
        batch = self.pad_dialogues(features)
        if return_tensors == "np":
            return BatchFeature({k: v.numpy() for k, v in batch.items()})
        if return_tensors not in ("pt", None):
            raise ValueError(f"return_tensors must be 'pt' or 'np', got {return_tensors!r}")
        return batch


# `auto_map` in the saved processor_config.json (the Hub path, trust_remote_code). The package's Auto-class
# registration (AutoProcessor, AutoFeatureExtractor, AutoVideoProcessor under MCNCLConfig) is `mcn_cl.registration`.
MCNCLProcessor.register_for_auto_class("AutoProcessor")


__all__ = ["MCNCLProcessor", "pad_dialogues"]

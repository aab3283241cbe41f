# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCIHN processor: single utterances (text, speech, face video, or precomputed feature sequences) -> the padded
`[B, ...]` sequences with masks that `MCIHNForMultimodalSentiment` takes.

Two steps, as for MCN-CL:

* `MCIHNProcessor.prepare_utterance(utterance)`: one utterance -> unpadded features;
* `pad_utterances(features)`: a list of them -> padded tensors with every mask. It is the one place where MCIHN's
  padding and masks are built; the training collator (`mcn_cl.trainer_mcihn.MCIHNDataCollator`) calls it too.

Media reading is MCN-CL's, not a copy: `load_audio` (soundfile / PyAV decode, mono, resampling, windows) and
`decode_video_frames` (PyAV seek + uniform frame sampling) with the `MCNCLMediaError` contract (`on_error="mask"`
masks the modality of that utterance with a warning).

This file travels to the Hub next to the processor config (``save_pretrained`` copies it flat, with the sibling
files it imports), so it imports only its siblings (relative imports) and public libraries.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer, BatchFeature, CLIPImageProcessor, Wav2Vec2FeatureExtractor
from transformers.processing_utils import ProcessorMixin
from transformers.utils import logging

# relative imports: on the Hub these files sit in one folder, without the mcn_cl package
from .feature_extraction_mcn_cl import MEDIA_ALIASES, MODALITIES, ON_ERROR, MCNCLMediaError, load_audio
from .video_processing_mcn_cl import decode_video_frames, sample_frame_indices

logger = logging.get_logger(__name__)

# precomputed sequence key -> (modality index, mask key)
FEATURE_KEYS = {
    "text_features": (0, "text_mask"),
    "audio_features": (1, "audio_mask"),
    "visual_features": (2, "visual_mask"),
}


# ----------------------------------------------------------------------------------------------------- padding


def _as_array(value: Any, dtype) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().astype(dtype, copy=False)
    return np.asarray(value, dtype=dtype)


def _pad_sequences(rows: list[np.ndarray | None], dtype, pad_value=0) -> tuple[np.ndarray, np.ndarray]:
    """Stack arrays [T_b, *S] (or None) into [B, T_max, *S] and a [B, T_max] mask (1 = real frame)."""
    shapes = {r.shape[1:] for r in rows if r is not None}
    if len(shapes) != 1:
        raise ValueError(f"pad_utterances: inconsistent frame shapes across utterances: {sorted(shapes)}")
    inner = shapes.pop()
    length = max(max((r.shape[0] for r in rows if r is not None), default=1), 1)
    out = np.full((len(rows), length, *inner), pad_value, dtype=dtype)
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for b, r in enumerate(rows):
        if r is not None and r.shape[0]:
            out[b, : r.shape[0]] = r
            mask[b, : r.shape[0]] = 1
    return out, mask


def _labels(features: Sequence[Mapping[str, Any]]) -> torch.Tensor | None:
    values = [row.get("labels", row.get("label")) for row in features]
    if all(v is None for v in values):
        return None
    regression = any(isinstance(v, float | np.floating) for v in values)
    if regression:
        missing = [b for b, v in enumerate(values) if v is None]
        if missing:
            raise ValueError(f"pad_utterances: utterance(s) {missing} have no sentiment score (label)")
        return torch.tensor([float(v) for v in values], dtype=torch.float32)
    return torch.tensor([-100 if v is None or int(v) < 0 else int(v) for v in values], dtype=torch.long)


def pad_utterances(features: Sequence[Mapping[str, Any]], pad_token_id: int = 0) -> BatchFeature:
    """Pad utterance features into MCIHN's model inputs.

    The one function that builds MCIHN's padding and masks (the processor and the training collator both call it).

    Args:
        features: one mapping per utterance with any of `input_ids` / `attention_mask` (token lists),
            `input_values` (waveform [S]), `pixel_values` [L, 3, H, W] with `frame_mask` [L], precomputed
            `text_features` [T_t, D_t], `audio_features` [T_a, D_a], `visual_features` [T_v, D_v] (their own masks
            `text_mask` ... optional), `modality_mask` [3], `labels` / `label` (float score or class id; -1, -100,
            None = unlabelled class). Other keys (`id`, `text`, `media_errors`, ...) are ignored.
        pad_token_id: id written into `input_ids` on padding tokens.

    Returns:
        `BatchFeature` of `torch` tensors for B utterances: the modality tensors padded with zeros and their masks
        (`attention_mask` [B, T], `audio_attention_mask` [B, S], `frame_mask` [B, L], `text_mask` / `audio_mask` /
        `visual_mask` [B, T_m]), `modality_mask` [B, 3] (given & the key is present), `labels` [B] (float32 scores
        or int64 ids, -100 = unlabelled) when any utterance has one.
    """
    if len(features) == 0:
        raise ValueError("pad_utterances: received no utterance")
    batch = len(features)
    out: dict[str, torch.Tensor] = {}
    has = np.zeros((batch, 3), dtype=bool)

    if any(row.get("input_ids") is not None for row in features):
        ids = [
            _as_array(row["input_ids"], np.int64) if row.get("input_ids") is not None else None
            for row in features
        ]
        padded, mask = _pad_sequences(ids, np.int64, pad_token_id)
        for b, row in enumerate(features):
            if row.get("attention_mask") is not None:
                given = _as_array(row["attention_mask"], np.int64)
                mask[b, : given.shape[0]] = given
        has[:, 0] |= [r is not None for r in ids]
        out["input_ids"], out["attention_mask"] = torch.from_numpy(padded), torch.from_numpy(mask)
    if any(row.get("input_values") is not None for row in features):
        waves = [
            _as_array(row["input_values"], np.float32).reshape(-1)
            if row.get("input_values") is not None
            else None
            for row in features
        ]
        padded, mask = _pad_sequences(waves, np.float32)
        has[:, 1] |= [w is not None for w in waves]
        out["input_values"], out["audio_attention_mask"] = torch.from_numpy(padded), torch.from_numpy(mask)
    if any(row.get("pixel_values") is not None for row in features):
        frames = [
            _as_array(row["pixel_values"], np.float32) if row.get("pixel_values") is not None else None
            for row in features
        ]
        padded, mask = _pad_sequences(frames, np.float32)
        for b, row in enumerate(features):
            if row.get("frame_mask") is not None:
                given = _as_array(row["frame_mask"], np.int64)
                mask[b] = 0
                mask[b, : given.shape[0]] = given
        has[:, 2] |= [f is not None for f in frames]
        out["pixel_values"], out["frame_mask"] = torch.from_numpy(padded), torch.from_numpy(mask)
    for key, (m, mask_key) in FEATURE_KEYS.items():
        if not any(row.get(key) is not None for row in features):
            continue
        rows = [_as_array(row[key], np.float32) if row.get(key) is not None else None for row in features]
        for b, r in enumerate(rows):
            if r is not None and r.ndim != 2:
                raise ValueError(
                    f"pad_utterances: utterance {b}: {key} must be [frames, size], got {list(r.shape)}"
                )
        padded, mask = _pad_sequences(rows, np.float32)
        for b, row in enumerate(features):
            if row.get(mask_key) is not None:
                given = _as_array(row[mask_key], np.int64)
                mask[b] = 0
                mask[b, : given.shape[0]] = given
        has[:, m] |= [r is not None for r in rows]
        out[key], out[mask_key] = torch.from_numpy(padded), torch.from_numpy(mask)

    modality_mask = has.astype(np.int64)
    for b, row in enumerate(features):
        if row.get("modality_mask") is not None:
            given = _as_array(row["modality_mask"], np.int64).reshape(-1)
            if given.shape != (3,):
                raise ValueError(
                    f"pad_utterances: utterance {b} has modality_mask of shape {given.shape}, expected (3,)"
                )
            modality_mask[b] &= given
    out["modality_mask"] = torch.from_numpy(modality_mask)
    labels = _labels(features)
    if labels is not None:
        out["labels"] = labels
    return BatchFeature(out)


# --------------------------------------------------------------------------------------------------- processor


class MCIHNProcessor(ProcessorMixin):
    r"""
    Constructs an MCIHN processor: a BERT tokenizer (text), a [`Wav2Vec2FeatureExtractor`] (speech) and a
    [`CLIPImageProcessor`] (face frames) turning single utterances into MCIHN's sequence inputs with masks.

    An utterance is a dict with any of:

    - `text` (`str`); `label` (sentiment score `float`, or class id `int`);
    - `audio` (or `audio_path`): a file path (wav/flac, or the audio track of mp4/avi/...), a waveform `np.ndarray`
      with `sampling_rate` (Hz), or a dict `{"array", "sampling_rate"}`;
    - `video` (or `video_path`): a file path, or the utterance's frames as a uint8 array [F, H, W, 3];
    - `start`, `end`: a window in seconds inside the video file (it also cuts the audio when the audio is read from
      the same file); `audio_start` / `audio_end` window an audio input explicitly;
    - precomputed sequences instead of media: `text_features` [T_t, D_t], `audio_features` [T_a, D_a],
      `visual_features` [T_v, D_v] (e.g. the MMSA feature files), passed through as they are.

    A modality missing from an utterance is zero-filled with `modality_mask` 0.

    Args:
        tokenizer ([`PreTrainedTokenizerBase`]): the text tower's tokenizer (BERT).
        feature_extractor ([`Wav2Vec2FeatureExtractor`], *optional*): defaults to 16 kHz, normalised, with attention
            masks.
        image_processor ([`CLIPImageProcessor`], *optional*): defaults to CLIP's 224x224 preprocessing.
        num_frames (`int`, *optional*, defaults to 8): frames L sampled uniformly per utterance (fewer when the clip
            has fewer; the rest is padding with `frame_mask` 0).
        max_text_length (`int`, *optional*, defaults to 64): tokens per utterance (truncation).
        max_audio_seconds (`float`, *optional*, defaults to 20.0): waveforms are cut to this length.

    Example:

    ```python
    >>> from mcn_cl import MCIHNProcessor

    >>> processor = MCIHNProcessor.from_pretrained("path/to/checkpoint")
    >>> inputs = processor({"text": "I loved it", "audio": "clip.mp4", "video": "clip.mp4"})
    >>> inputs["input_ids"].shape, inputs["input_values"].shape, inputs["pixel_values"].shape
    ```
    """

    def __init__(
        self,
        tokenizer=None,
        feature_extractor=None,
        image_processor=None,
        num_frames: int = 8,
        max_text_length: int = 64,
        max_audio_seconds: float = 20.0,
        **kwargs,
    ):
        if tokenizer is None:
            raise ValueError(
                "MCIHNProcessor needs a tokenizer (e.g. AutoTokenizer.from_pretrained('bert-base-uncased'))"
            )
        if feature_extractor is None:
            feature_extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=True)
        if image_processor is None:
            image_processor = CLIPImageProcessor()
        if not isinstance(num_frames, int) or num_frames <= 0:
            raise ValueError(f"MCIHNProcessor.num_frames must be a positive integer, got {num_frames!r}")
        if not max_audio_seconds > 0:
            raise ValueError(f"MCIHNProcessor.max_audio_seconds must be > 0, got {max_audio_seconds!r}")
        self.num_frames = num_frames
        self.max_text_length = int(max_text_length)
        self.max_audio_seconds = float(max_audio_seconds)
        super().__init__(tokenizer, feature_extractor, image_processor, **kwargs)

    @classmethod
    def from_text_encoder(cls, text_encoder: str | os.PathLike, **kwargs) -> MCIHNProcessor:
        """A processor with the tokenizer of `text_encoder` (Hub id or local folder) and default speech / image
        components; `kwargs` go to the processor."""
        return cls(AutoTokenizer.from_pretrained(text_encoder), **kwargs)

    @property
    def model_input_names(self) -> list[str]:
        return [
            "input_ids",
            "attention_mask",
            "input_values",
            "audio_attention_mask",
            "pixel_values",
            "frame_mask",
            "text_features",
            "text_mask",
            "audio_features",
            "audio_mask",
            "visual_features",
            "visual_mask",
            "modality_mask",
        ]

    # ------------------------------------------------------------------------------------------ one utterance

    def _media_error_classes(self) -> tuple[type[Exception], ...]:
        """`MCNCLMediaError` of this module's sibling (with `trust_remote_code`, the copy saved with this file)."""
        module = sys.modules.get(type(self).__module__)
        return (MCNCLMediaError, getattr(module, "MCNCLMediaError", MCNCLMediaError))

    def _text(self, u: Mapping[str, Any]) -> dict[str, list[int]]:
        text = u["text"]
        if not isinstance(text, str):
            raise MCNCLMediaError(f"text must be a string, got {type(text).__name__}", None, "text")
        if not text.strip():
            raise MCNCLMediaError("empty text", None, "text")
        encoded = self.tokenizer(text, truncation=True, max_length=self.max_text_length)
        return {"input_ids": list(encoded["input_ids"]), "attention_mask": list(encoded["attention_mask"])}

    def _audio(self, u: Mapping[str, Any]) -> dict[str, np.ndarray]:
        audio = u["audio"]
        start, end = u.get("audio_start"), u.get("audio_end")
        same_file = isinstance(audio, str | os.PathLike) and isinstance(u.get("video"), str | os.PathLike)
        if start is None and end is None and same_file and os.fspath(audio) == os.fspath(u["video"]):
            start, end = u.get("start"), u.get("end")
        rate = self.feature_extractor.sampling_rate
        samples = load_audio(audio, u.get("sampling_rate"), start, end, target_sampling_rate=rate)
        samples = samples[: int(self.max_audio_seconds * rate)]
        values = self.feature_extractor(samples, sampling_rate=rate, return_tensors="np")["input_values"][0]
        return {"input_values": np.asarray(values, dtype=np.float32).reshape(-1)}

    def _video(self, u: Mapping[str, Any]) -> dict[str, np.ndarray]:
        video = u["video"]
        if isinstance(video, str | os.PathLike):
            frames, _ = decode_video_frames(os.fspath(video), self.num_frames, u.get("start"), u.get("end"))
        else:
            array = np.asarray(video)
            if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8 or array.shape[0] == 0:
                raise MCNCLMediaError(
                    f"a frames array must be uint8 [F > 0, H, W, 3], got {array.dtype} {array.shape}",
                    None,
                    "video",
                )
            frames = array[sample_frame_indices(array.shape[0], self.num_frames)]
        pixel_values = self.image_processor(images=list(frames), return_tensors="np")["pixel_values"]
        return {
            "pixel_values": np.asarray(pixel_values, dtype=np.float32),
            "frame_mask": np.ones(len(frames), np.int64),
        }

    @staticmethod
    def _features(key: str, modality: str):
        def read(u: Mapping[str, Any]) -> dict[str, np.ndarray]:
            array = _as_array(u[key], np.float32)
            if array.ndim != 2 or array.shape[0] == 0:
                raise MCNCLMediaError(
                    f"{key} must be [frames > 0, size], got {list(array.shape)}", None, modality
                )
            if not np.isfinite(array).all():
                raise MCNCLMediaError(f"{key} holds NaN or inf", None, modality)
            return {key: array}

        return read

    def prepare_utterance(
        self, utterance: Mapping[str, Any], on_error: str = "raise", index: int | None = None
    ) -> dict[str, Any]:
        """One utterance -> unpadded features for [`pad_utterances`].

        Args:
            utterance: the utterance dict (see the class docstring).
            on_error: `"raise"`: bad input raises `MCNCLMediaError` naming the file, the field and the utterance;
                `"mask"`: that modality is left out, its `modality_mask` entry 0, the problem logged as a warning and
                listed in `media_errors`.
            index: the utterance's position in its batch, for messages.

        Returns:
            dict with `modality_mask` [3], `media_errors`, `labels` (if the utterance has a `label`) and, per modality
            read: `input_ids` / `attention_mask`, `input_values` [S], `pixel_values` [n, 3, H, W] / `frame_mask` [n],
            or the precomputed `*_features` [T, D].
        """
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        if not isinstance(utterance, Mapping):
            raise TypeError(
                f"utterance {index if index is not None else ''}: expected a dict, got {type(utterance).__name__}"
            )
        u = dict(utterance)
        for alias, key in MEDIA_ALIASES.items():
            value = u.pop(alias, None)
            if u.get(key) is None and value is not None:
                u[key] = value
        # per modality: precomputed features win over the raw medium
        readers = (
            ("text_features", "text", self._features("text_features", "text")),
            ("text", "text", self._text),
            ("audio_features", "audio", self._features("audio_features", "audio")),
            ("audio", "audio", self._audio),
            ("visual_features", "visual", self._features("visual_features", "video")),
            ("video", "visual", self._video),
        )
        out: dict[str, Any] = {}
        modality_mask = np.zeros(3, dtype=np.int64)
        errors: list[dict[str, Any]] = []
        done: set[str] = set()
        media_errors = self._media_error_classes()
        for key, modality, read in readers:
            if modality in done or u.get(key) is None:
                continue
            done.add(modality)
            try:
                out.update(read(u))
            except media_errors as err:
                located = err.at_utterance(index) if index is not None else err
                if on_error == "raise":
                    raise located from err
                errors.append({"modality": modality, "reason": str(located)})
                logger.warning("masking %s: %s", modality, located)
                continue
            modality_mask[MODALITIES.index(modality)] = 1
        if "label" in u or "labels" in u:
            out["labels"] = u.get("label", u.get("labels"))
        out["modality_mask"] = modality_mask
        out["media_errors"] = errors
        return out

    # --------------------------------------------------------------------------------------------------- batch

    def pad_utterances(self, features: Sequence[Mapping[str, Any]]) -> BatchFeature:
        """[`pad_utterances`] with this tokenizer's pad id. The pipeline pads through this method, so that with
        `trust_remote_code` it uses the copy of this file saved next to the weights."""
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        return pad_utterances(features, pad_token_id=pad_id)

    def __call__(
        self,
        utterances: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        on_error: str = "raise",
        return_tensors: str | None = "pt",
        **kwargs,
    ) -> BatchFeature:
        """
        Args:
            utterances: one utterance dict or a list of them.
            on_error: `"raise"` or `"mask"` (see `prepare_utterance`).
            return_tensors: `"pt"` (default) or `"np"`.

        Returns:
            `BatchFeature` of padded `[B, ...]` tensors (see [`pad_utterances`]); B = 1 for one utterance.
        """
        if utterances is None:
            raise ValueError(
                "MCIHNProcessor needs an utterance (a dict with text / audio / video) or a list of them"
            )
        if kwargs:
            raise TypeError(f"MCIHNProcessor.__call__ got unexpected arguments {sorted(kwargs)}")
        if isinstance(utterances, Mapping):
            utterances = [utterances]
        features = [self.prepare_utterance(u, on_error=on_error, index=i) for i, u in enumerate(utterances)]
        for i, f in enumerate(features):
            if not f["modality_mask"].any():
                reasons = "; ".join(e["reason"] for e in f["media_errors"]) or "no text, audio or video given"
                raise ValueError(f"utterance {i} has no usable modality ({reasons})")
        batch = self.pad_utterances(features)
        if return_tensors == "np":
            return BatchFeature({k: v.numpy() for k, v in batch.items()})
        if return_tensors not in ("pt", None):
            raise ValueError(f"return_tensors must be 'pt' or 'np', got {return_tensors!r}")
        return batch


# `auto_map` in the saved processor_config.json (the Hub path); the package registers it with AutoProcessor in
# `mcn_cl.registration`.
MCIHNProcessor.register_for_auto_class("AutoProcessor")


__all__ = ["MCIHNProcessor", "pad_utterances"]

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCIHN processor: single utterances (text, speech, face video, or precomputed feature sequences) -> the padded
`[B, ...]` sequences with masks that `MCIHNForMultimodalSentiment` takes.

Two steps, as for MCN-CL:

* `MCIHNProcessor.prepare_utterance(utterance)`: one utterance -> unpadded features;
* `pad_utterances(features)` (sibling `padding_mcihn.py`): a list of them -> padded tensors with every mask. It is
  the one place where MCIHN's padding and masks are built; the training collator
  (`mcn_cl.trainer_mcihn.MCIHNDataCollator`) calls it too.

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
from transformers import AutoTokenizer, BatchFeature, CLIPImageProcessor, Wav2Vec2FeatureExtractor
from transformers.processing_utils import ProcessorMixin
from transformers.utils import logging

# relative imports: on the Hub these files sit in one folder, without the mcn_cl package
from .feature_extraction_mcn_cl import LazyOpenSMILE
from .inputs_mcn_cl import MEDIA_ALIASES, MODALITIES, ON_ERROR, MCNCLInputError, MCNCLMediaError, load_audio
from .padding_mcihn import _as_array, check_label, pad_utterances
from .video_processing_mcn_cl import decode_video_frames, sample_frame_indices

logger = logging.get_logger(__name__)

# what the processor makes of each raw medium (None: that medium is refused, precomputed features only)
TEXT_INPUTS = ("tokens", None)
AUDIO_INPUTS = (
    "waveform",
    "opensmile",
    None,
)  # Wav2Vec2 tower input, or openSMILE low-level descriptor frames
VISUAL_INPUTS = ("frames", None)  # pixel_values for the vision tower (CLIP or ResNet)
# openSMILE low-level descriptors per 10 ms frame of each feature set (opensmile 2.6)
OPENSMILE_LLD_SIZES = {"eGeMAPSv02": 25, "GeMAPSv01b": 18, "ComParE_2016": 65}


def _path_of(medium: Any) -> str | None:
    return os.fspath(medium) if isinstance(medium, str | os.PathLike) else None


def check_utterance_list(utterances: Any) -> None:
    """`MCNCLInputError` unless `utterances` is a non-empty list (or tuple) of utterance dicts."""
    if utterances is None:
        raise MCNCLInputError(
            "give an utterance (a dict with text / audio / video) or a list of them", "utterances"
        )
    if isinstance(utterances, str | bytes) or not isinstance(utterances, list | tuple):
        raise MCNCLInputError(
            f"expected a dict or a list of dicts, got {type(utterances).__name__}", "utterances"
        )
    if len(utterances) == 0:
        raise MCNCLInputError("the list of utterances is empty", "utterances")
    for i, u in enumerate(utterances):
        if not isinstance(u, Mapping):
            raise MCNCLInputError(f"expected a dict, got {type(u).__name__}", None, i)


def check_usable(features: Mapping[str, Any], index: int | None = None) -> None:
    """`MCNCLInputError` when a prepared utterance has no usable modality left (every one missing or masked)."""
    if not np.asarray(features["modality_mask"]).any():
        reasons = "; ".join(e["reason"] for e in features["media_errors"]) or "no text, audio or video given"
        raise MCNCLInputError(f"no usable modality ({reasons})", None, index)


# --------------------------------------------------------------------------------------------------- processor


class MCIHNProcessor(LazyOpenSMILE, ProcessorMixin):
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
        text_input (`str` or `None`, *optional*, defaults to `"tokens"`): raw `text` is tokenised for the text tower;
            `None`: the model has none, raw text is a media error (masked under `on_error="mask"`).
        audio_input (`str` or `None`, *optional*, defaults to `"waveform"`): raw audio becomes `input_values` for a
            speech tower (`"waveform"`), or `audio_features` of openSMILE low-level descriptors (`"opensmile"`:
            `opensmile_feature_set` per 10 ms, averaged over `opensmile_pool` frames); `None`: refused (media error).
        visual_input (`str` or `None`, *optional*, defaults to `"frames"`): video becomes `pixel_values` for a vision
            tower; `None`: refused (media error).
        feature_sizes (`dict`, *optional*): expected size of precomputed `text` / `audio` / `visual` frames (a
            sequence of another size is a media error).
        min_audio_samples (`int`, *optional*, defaults to 400): shortest waveform the speech tower's convolutions
            take (25 ms at 16 kHz for wav2vec2-base); shorter audio is a media error, alone or batched.
        num_labels, sentiment_range (*optional*): the model's label kind, for checking gold labels.

    `configure_for_model(config)` sets the last six from an `MCIHNConfig` (the pipeline and the training script
    call it).

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
        text_input: str | None = "tokens",
        audio_input: str | None = "waveform",
        visual_input: str | None = "frames",
        feature_sizes: Mapping[str, int | None] | None = None,
        min_audio_samples: int = 400,
        opensmile_feature_set: str = "eGeMAPSv02",
        opensmile_pool: int = 4,
        num_labels: int | None = None,
        sentiment_range: Sequence[float] | None = None,
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
        for name, value, allowed in (("text_input", text_input, TEXT_INPUTS), ("audio_input", audio_input,
                                     AUDIO_INPUTS), ("visual_input", visual_input, VISUAL_INPUTS)):  # fmt: skip
            if value not in allowed:
                raise ValueError(f"MCIHNProcessor.{name} must be one of {allowed}, got {value!r}")
        if opensmile_feature_set not in OPENSMILE_LLD_SIZES:
            raise ValueError(
                f"MCIHNProcessor.opensmile_feature_set must be one of {sorted(OPENSMILE_LLD_SIZES)}, "
                f"got {opensmile_feature_set!r}"
            )
        if not isinstance(opensmile_pool, int) or opensmile_pool <= 0:
            raise ValueError(
                f"MCIHNProcessor.opensmile_pool must be a positive integer, got {opensmile_pool!r}"
            )
        self.num_frames = num_frames
        self.max_text_length = int(max_text_length)
        self.max_audio_seconds = float(max_audio_seconds)
        self.text_input, self.audio_input, self.visual_input = text_input, audio_input, visual_input
        self.feature_sizes = {m: (feature_sizes or {}).get(m) for m in MODALITIES}
        self.min_audio_samples = int(min_audio_samples)
        self.opensmile_feature_set = opensmile_feature_set
        self.opensmile_pool = opensmile_pool
        self.num_labels = num_labels
        self.sentiment_range = list(sentiment_range) if sentiment_range is not None else None
        super().__init__(tokenizer, feature_extractor, image_processor, **kwargs)

    def configure_for_model(self, config) -> MCIHNProcessor:
        """Match this processor to an `MCIHNConfig` (read by attribute, so that this file needs no modeling import):
        raw text only with a text tower, waveforms only with a speech tower (openSMILE frames when this processor
        extracts them and the model takes their size), frames only with a vision tower; the feature size of every
        precomputed sequence, the shortest waveform the speech tower's convolutions take, and the label kind.
        Called by the pipeline and the training script; returns the processor."""
        self.text_input = "tokens" if getattr(config, "use_text_encoder", True) else None
        if getattr(config, "audio_config", None) is not None:
            self.audio_input = "waveform"
            kernels = getattr(config.audio_config, "conv_kernel", None)
            strides = getattr(config.audio_config, "conv_stride", None)
            if kernels and strides:
                samples = 1
                for kernel, stride in reversed(list(zip(kernels, strides))):
                    samples = (samples - 1) * stride + kernel
                self.min_audio_samples = int(samples)
        elif self.audio_input == "opensmile" and config.audio_feature_size == self.opensmile_size:
            pass
        else:
            self.audio_input = None
        self.visual_input = "frames" if getattr(config, "visual_config", None) is not None else None
        self.feature_sizes = {
            "text": config.text_feature_size,
            "audio": config.audio_feature_size,
            "visual": config.visual_feature_size,
        }
        self.num_labels = int(config.num_labels)
        self.sentiment_range = list(config.sentiment_range) if config.num_labels == 1 else None
        return self

    @property
    def opensmile_size(self) -> int:
        """Size of an openSMILE audio frame (`audio_input="opensmile"`): the feature set's low-level descriptors."""
        return OPENSMILE_LLD_SIZES[self.opensmile_feature_set]

    def smile_settings(self) -> tuple[str, str]:
        return self.opensmile_feature_set, "LowLevelDescriptors"

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
        if self.text_input is None:
            raise MCNCLMediaError(
                "this model has no text tower: give text_features instead of text", None, "text"
            )
        encoded = self.tokenizer(text, truncation=True, max_length=self.max_text_length)
        return {"input_ids": list(encoded["input_ids"]), "attention_mask": list(encoded["attention_mask"])}

    def _samples(self, u: Mapping[str, Any]) -> np.ndarray:
        audio = u["audio"]
        start, end = u.get("audio_start"), u.get("audio_end")
        same_file = isinstance(audio, str | os.PathLike) and isinstance(u.get("video"), str | os.PathLike)
        if start is None and end is None and same_file and os.fspath(audio) == os.fspath(u["video"]):
            start, end = u.get("start"), u.get("end")
        rate = self.feature_extractor.sampling_rate
        samples = load_audio(audio, u.get("sampling_rate"), start, end, target_sampling_rate=rate)
        return samples[: int(self.max_audio_seconds * rate)]

    def _audio(self, u: Mapping[str, Any]) -> dict[str, np.ndarray]:
        if self.audio_input is None:
            raise MCNCLMediaError(
                "this model has no speech tower or extractor: give audio_features instead of audio",
                _path_of(u["audio"]),
                "audio",
            )
        samples = self._samples(u)
        rate = self.feature_extractor.sampling_rate
        if self.audio_input == "opensmile":
            return {"audio_features": self._opensmile_frames(samples, rate)}
        if samples.shape[0] < self.min_audio_samples:
            raise MCNCLMediaError(
                f"{1000 * samples.shape[0] / rate:.1f} ms of audio: the speech tower needs at least "
                f"{1000 * self.min_audio_samples / rate:.1f} ms ({self.min_audio_samples} samples)",
                None,
                "audio",
            )
        values = self.feature_extractor(samples, sampling_rate=rate, return_tensors="np")["input_values"][0]
        values = np.asarray(values, dtype=np.float32).reshape(-1)
        if not np.isfinite(values).all():
            raise MCNCLMediaError("the normalised waveform is not finite", None, "audio")
        return {"input_values": values}

    def _opensmile_frames(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """openSMILE low-level descriptors [frames, D] (10 ms hop), averaged over `opensmile_pool` frames."""
        lld = self.smile.process_signal(samples, rate).to_numpy(dtype=np.float32)
        usable = (lld.shape[0] // self.opensmile_pool) * self.opensmile_pool
        if usable == 0:
            raise MCNCLMediaError(
                f"{1000 * samples.shape[0] / rate:.1f} ms of audio give fewer than {self.opensmile_pool} openSMILE "
                "frames",
                None,
                "audio",
            )
        pooled = lld[:usable].reshape(-1, self.opensmile_pool, lld.shape[1]).mean(1)
        if not np.isfinite(pooled).all():
            raise MCNCLMediaError("openSMILE gave non-finite descriptors", None, "audio")
        return pooled

    def _video(self, u: Mapping[str, Any]) -> dict[str, np.ndarray]:
        if self.visual_input is None:
            raise MCNCLMediaError(
                "this model has no vision tower: give visual_features instead of video",
                _path_of(u["video"]),
                "video",
            )
        video = u["video"]
        if isinstance(video, str | os.PathLike):
            frames, _ = decode_video_frames(os.fspath(video), self.num_frames, u.get("start"), u.get("end"))
        else:
            try:
                array = (
                    np.asarray(video) if isinstance(video, np.ndarray | list | tuple) else np.asarray(None)
                )
            except (ValueError, TypeError, OverflowError):
                array = np.asarray(None)
            if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8 or 0 in array.shape[:3]:
                raise MCNCLMediaError(
                    f"a frames array must be uint8 [F > 0, H > 0, W > 0, 3], got {array.dtype} {array.shape}",
                    None,
                    "video",
                )
            frames = array[sample_frame_indices(array.shape[0], self.num_frames)]
        if any(0 in np.shape(f)[:2] for f in frames):
            raise MCNCLMediaError("a frame has no pixels (0 height or width)", None, "video")
        try:
            pixel_values = self.image_processor(images=list(frames), return_tensors="np")["pixel_values"]
        except (ValueError, ZeroDivisionError, TypeError, IndexError) as err:
            raise MCNCLMediaError(f"the frames cannot be resized: {err}", None, "video") from err
        return {
            "pixel_values": np.asarray(pixel_values, dtype=np.float32),
            "frame_mask": np.ones(len(frames), np.int64),
        }

    def _features(self, key: str, modality: str):
        size = self.feature_sizes.get(key.split("_")[0])

        def read(u: Mapping[str, Any]) -> dict[str, np.ndarray]:
            try:
                array = _as_array(u[key], np.float32)
            except (TypeError, ValueError, OverflowError) as err:
                raise MCNCLMediaError(f"{key} is not a numeric array: {err}", None, modality) from err
            if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
                raise MCNCLMediaError(
                    f"{key} must be [frames > 0, size > 0], got {list(array.shape)}", None, modality
                )
            if size is not None and array.shape[1] != size:
                raise MCNCLMediaError(f"{key} frames have {array.shape[1]} values, the model takes {size}", None,
                                      modality)  # fmt: skip
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
            raise MCNCLInputError(f"expected a dict, got {type(utterance).__name__}", None, index)
        u = dict(utterance)
        if u.get("text") is not None and u.get("text_features") is not None:
            raise MCNCLInputError(
                "text and text_features both given: one text input per utterance", "text_features", index
            )
        label = check_label(u.get("label", u.get("labels")), self.num_labels, self.sentiment_range, index)
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
            out["labels"] = label
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
        if kwargs:
            raise TypeError(f"MCIHNProcessor.__call__ got unexpected arguments {sorted(kwargs)}")
        if isinstance(utterances, Mapping):
            utterances = [utterances]
        check_utterance_list(utterances)
        features = [self.prepare_utterance(u, on_error=on_error, index=i) for i, u in enumerate(utterances)]
        for i, f in enumerate(features):
            check_usable(f, i)
        batch = self.pad_utterances(features)
        if return_tensors == "np":
            return BatchFeature({k: v.numpy() for k, v in batch.items()})
        if return_tensors not in ("pt", None):
            raise ValueError(f"return_tensors must be 'pt' or 'np', got {return_tensors!r}")
        return batch


# `auto_map` in the saved processor_config.json (the Hub path); the package registers it with AutoProcessor in
# `mcn_cl.registration`.
MCIHNProcessor.register_for_auto_class("AutoProcessor")


__all__ = ["MCIHNProcessor", "check_label", "check_usable", "check_utterance_list", "pad_utterances"]

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCN-CL audio feature extractor: utterance-level openSMILE functionals (IS10 = 1582-d by default).

Reading the audio (files, windows, arrays) is `inputs_mcn_cl.py`'s. This file travels to the Hub next to the
processor config (``save_pretrained`` copies it flat, with its same-folder imports), so it imports only public
libraries and its siblings.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from transformers import BatchFeature
from transformers.feature_extraction_sequence_utils import SequenceFeatureExtractor
from transformers.utils import logging

from .inputs_mcn_cl import AudioInput, MCNCLMediaError, load_audio

logger = logging.get_logger(__name__)

# Functionals size of each `opensmile.FeatureSet` (checked against `len(Smile(...).feature_names)`, opensmile 2.6).
OPENSMILE_FEATURE_SIZES = {
    "IS09": 384,
    "IS10": 1582,
    "IS11": 4368,
    "IS12": 6125,
    "IS13": 6373,
    "ComParE_2016": 6373,
    "GeMAPSv01a": 62,
    "GeMAPSv01b": 62,
    "eGeMAPSv01a": 88,
    "eGeMAPSv01b": 88,
    "eGeMAPSv02": 88,
    "emobase": 988,
}


class LazyOpenSMILE:
    """An `opensmile.Smile` engine (`smile`) built on first use from `smile_settings()`, the (feature set, feature
    level) names that are saved; the engine never is (`to_dict` leaves it out, pickling for `datasets.map` drops it)."""

    _smile = None

    @staticmethod
    def build_smile(feature_set: str, feature_level: str):
        import opensmile

        return opensmile.Smile(opensmile.FeatureSet[feature_set], opensmile.FeatureLevel[feature_level])

    @property
    def smile(self):
        if self._smile is None:
            self._smile = self.build_smile(*self.smile_settings())
        return self._smile

    def to_dict(self, *args, **kwargs) -> dict[str, Any]:
        return {k: v for k, v in super().to_dict(*args, **kwargs).items() if k != "_smile"}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_smile": None}


class MCNCLFeatureExtractor(LazyOpenSMILE, SequenceFeatureExtractor):
    r"""
    Constructs an MCN-CL audio feature extractor: one vector of openSMILE functionals per utterance.

    The `opensmile.Smile` engine is built lazily from the feature-set *name* stored in the config and is never
    serialised (`to_dict`, pickling for `datasets.map` workers), so the extractor saves to
    `preprocessor_config.json` like any `transformers` feature extractor.

    Args:
        feature_set (`str`, *optional*, defaults to `"IS10"`):
            Name of an `opensmile.FeatureSet`: `"IS10"` (INTERSPEECH 2010 paralinguistic challenge, 1582-d, the
            paper's and the published baselines' set), `"ComParE_2016"` (6373-d), `"eGeMAPSv02"` (88-d),
            `"emobase"` (988-d), ...
        feature_size (`int`, *optional*):
            Size of the output vector; derived from `feature_set` when omitted.
        sampling_rate (`int`, *optional*, defaults to 16000):
            Rate (Hz) audio is resampled to before openSMILE.
        do_normalize (`bool`, *optional*, defaults to `False`):
            Standardise each feature with `feature_mean` / `feature_std` (see `fit_normalization`).
        feature_mean, feature_std (`list[float]`, *optional*):
            Per-feature statistics, fitted on a training set.

    Example:

    ```python
    >>> from mcn_cl import MCNCLFeatureExtractor

    >>> extractor = MCNCLFeatureExtractor()  # IS10, 1582-d
    >>> features = extractor(["a.wav", "b.mp4"], start=[None, 1.0], end=[None, 2.5], return_tensors="pt")
    >>> features["audio_features"].shape
    torch.Size([2, 1582])
    ```
    """

    model_input_names = ["audio_features"]

    def __init__(
        self,
        feature_set: str = "IS10",
        feature_size: int | None = None,
        sampling_rate: int = 16000,
        padding_value: float = 0.0,
        do_normalize: bool = False,
        feature_mean: Sequence[float] | None = None,
        feature_std: Sequence[float] | None = None,
        **kwargs,
    ):
        expected = OPENSMILE_FEATURE_SIZES.get(feature_set)
        # A set whose size is not tabulated: ask openSMILE (the known ones need no import: text-only runs work without it)
        if expected is None:
            import opensmile

            if feature_set not in opensmile.FeatureSet.__members__:
                raise ValueError(
                    f"MCNCLFeatureExtractor.feature_set: unknown openSMILE feature set {feature_set!r}; "
                    f"choose one of {sorted(opensmile.FeatureSet.__members__)}"
                )
            expected = len(self.build_smile(feature_set, "Functionals").feature_names)
        if feature_size is not None and int(feature_size) != expected:
            raise ValueError(
                f"MCNCLFeatureExtractor.feature_size: {feature_set} gives {expected} features, got {feature_size}"
            )
        super().__init__(
            feature_size=expected, sampling_rate=sampling_rate, padding_value=padding_value, **kwargs
        )
        self.feature_set = feature_set
        self.do_normalize = do_normalize
        self.feature_mean = [float(x) for x in feature_mean] if feature_mean is not None else None
        self.feature_std = [float(x) for x in feature_std] if feature_std is not None else None
        if do_normalize and (self.feature_mean is None or self.feature_std is None):
            raise ValueError(
                "MCNCLFeatureExtractor.do_normalize=True needs feature_mean and feature_std (see fit_normalization)"
            )
        for name in ("feature_mean", "feature_std"):
            value = getattr(self, name)
            if value is not None and len(value) != self.feature_size:
                raise ValueError(
                    f"MCNCLFeatureExtractor.{name}: {len(value)} values for {self.feature_size} features"
                )

    def smile_settings(self) -> tuple[str, str]:
        return self.feature_set, "Functionals"

    # ---------------------------------------------------------------------------------------------- extraction

    def extract(
        self,
        audio: AudioInput,
        sampling_rate: int | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> np.ndarray:
        """openSMILE functionals of one utterance: `np.ndarray` [feature_size] float32 (normalised if
        `do_normalize`). Raises `MCNCLMediaError` on bad input (see `load_audio`)."""
        samples = load_audio(audio, sampling_rate, start, end, target_sampling_rate=self.sampling_rate)
        path = os.fspath(audio) if isinstance(audio, str | os.PathLike) else None
        peak = float(np.abs(samples).max())
        if not np.isfinite(peak):  # finite input, overflowed by the resampler
            raise MCNCLMediaError(
                "non-finite samples after resampling (the waveform is far outside [-1, 1])", path
            )
        if peak > 1.0:
            # openSMILE reads 16-bit PCM (samples * 32768 cast to int16): beyond [-1, 1) the values would wrap around
            logger.warning(
                "audio %s: samples up to %.3g exceed [-1, 1]: clipped before openSMILE (integer PCM passed as "
                "floats? scale it to [-1, 1])",
                path if path is not None else "array",
                peak,
            )
        # openSMILE's int16 cast: 1.0 * 32768 would wrap to -32768
        samples = np.clip(samples, -1.0, 32767 / 32768)
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", UserWarning
            )  # "Segment too short, filling with NaN": checked below
            features = self.smile.process_signal(samples, self.sampling_rate).to_numpy(dtype=np.float32)[0]
        if not np.isfinite(features).all():
            raise MCNCLMediaError(
                f"openSMILE returned non-finite features: audio too short ({samples.size / self.sampling_rate:.3f} s)",
                path,
            )
        return self.normalize(features) if self.do_normalize else features

    def __call__(
        self,
        raw_audio: AudioInput | Sequence[AudioInput],
        sampling_rate: int | None = None,
        start: float | Sequence[float | None] | None = None,
        end: float | Sequence[float | None] | None = None,
        return_tensors: str | None = None,
        **kwargs,
    ) -> BatchFeature:
        """
        Args:
            raw_audio: one input or a list of inputs (paths, waveforms, `{"array", "sampling_rate"}` dicts).
            sampling_rate: rate (Hz) of array inputs without their own.
            start, end: window(s) in seconds, one value or one per input.
            return_tensors: `"pt"`, `"np"` or `None` (lists).

        Returns:
            `BatchFeature` with `audio_features` [B, feature_size].
        """
        single = isinstance(raw_audio, str | os.PathLike | Mapping) or (
            isinstance(raw_audio, np.ndarray) and raw_audio.ndim == 1
        )
        items = [raw_audio] if single else list(raw_audio)
        starts = start if isinstance(start, Sequence) else [start] * len(items)
        ends = end if isinstance(end, Sequence) else [end] * len(items)
        if len(starts) != len(items) or len(ends) != len(items):
            raise ValueError(f"{len(items)} audio inputs but {len(starts)} start and {len(ends)} end values")
        features = np.stack([self.extract(a, sampling_rate, s, e) for a, s, e in zip(items, starts, ends)])
        return BatchFeature({"audio_features": features}, tensor_type=return_tensors)

    # ------------------------------------------------------------------------------------------- normalisation

    def fit_normalization(self, features: np.ndarray | Sequence[Sequence[float]], eps: float = 1e-8) -> None:
        """Fit the per-feature mean and standard deviation on training features and switch normalisation on.

        Args:
            features: un-normalised functionals of the training utterances, [M, feature_size] (e.g. the
                `audio_features` rows of the train split, masked utterances left out).
            eps: features whose std is below `eps` (constant over the training set) get std 1.
        """
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.feature_size or x.shape[0] < 2:
            raise ValueError(f"fit_normalization needs [M >= 2, {self.feature_size}] features, got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("fit_normalization: the features contain NaN or inf")
        std = x.std(axis=0)
        self.feature_mean = x.mean(axis=0).tolist()
        self.feature_std = np.where(std < eps, 1.0, std).tolist()
        self.do_normalize = True

    def normalize(self, features: np.ndarray) -> np.ndarray:
        """Standardise features [..., feature_size] with the fitted statistics."""
        if self.feature_mean is None or self.feature_std is None:
            raise ValueError("MCNCLFeatureExtractor.normalize: call fit_normalization first")
        mean = np.asarray(self.feature_mean, dtype=np.float32)
        std = np.asarray(self.feature_std, dtype=np.float32)
        return ((np.asarray(features, dtype=np.float32) - mean) / std).astype(np.float32)


MCNCLFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")

__all__ = ["LazyOpenSMILE", "MCNCLFeatureExtractor", "OPENSMILE_FEATURE_SIZES"]

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCIHN model configuration.

MCIHN: "A Hybrid Network Model Based on Multi-path Cross-modal Interaction for Multimodal Emotion Recognition"
(Zhang, Yang, Sun, Pang, Xu; arXiv 2510.24827). No public code exists; every choice the paper leaves open is a
field below, documented as such.

This file travels to the Hub next to the weights (``save_pretrained`` copies it flat into the checkpoint folder),
so it imports only public libraries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from transformers import AutoConfig, PretrainedConfig

# Copied from mcn_cl.processing.inputs_mcn_cl.MODALITIES with MODALITIES->MCIHN_MODALITIES
MCIHN_MODALITIES = ("text", "audio", "visual")
# the three paths of the Cross-modal Gate Mechanism Model, as (modality, modality) pairs
MCIHN_PAIRS = (("text", "audio"), ("text", "visual"), ("audio", "visual"))
REGRESSION_LOSSES = ("l1", "mse")

# bert-base-uncased's architecture: the default text tower (a choice of this package; the paper names no extractor).
_BERT_BASE = {
    "model_type": "bert",
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "pad_token_id": 0,
}


def _sub_config(value: dict | PretrainedConfig | None, default_type: str) -> PretrainedConfig | None:
    if value is None or isinstance(value, PretrainedConfig):
        return value
    value = dict(value)
    return AutoConfig.for_model(value.pop("model_type", default_type), **value)


def _tower_size(config: PretrainedConfig) -> int:
    """Size of a vision tower's pooled output per frame: `hidden_size` (CLIP), or the last stage's width (ResNet)."""
    size = getattr(config, "hidden_size", None)
    return size if size is not None else config.hidden_sizes[-1]


class MCIHNConfig(PretrainedConfig):
    r"""
    This is the configuration class to store the configuration of a [`MCIHNModel`] or a
    [`MCIHNForMultimodalSentiment`]. It is used to instantiate an MCIHN model according to the specified arguments,
    defining the feature extractors, the per-modality adversarial autoencoders (Feature Reconstruction Module), the
    cross-modal gates (CGMM), the attention fusion (FFM) and the prediction head. The defaults give a BERT-base text
    tower, precomputed audio / visual feature sequences of the CMU-MOSI MMSA files (5-d COVAREP, 20-d Facet) and
    one regression output (sentiment score).

    The available paper text names the adversarial autoencoders, the CGMM paths with an MMD objective, the FFM and
    the datasets. Everything below is a choice of this package, not named by the paper (all configurable): the text /
    speech / vision extractors (BERT is only the default tower), the MMD kernels and the shapes of every block.

    - Encoders E / decoders D of the autoencoders are per-time-step MLPs (Linear, GELU, Linear): the codes S keep
      the sequence length of X. Each modality's frames are first standardised per feature with running statistics
      of the training frames (`MCIHNInputStandardizer`, buffers saved with the weights; a per-frame LayerNorm would
      discard each frame's scale and offset); the reconstruction target is that standardised input with the
      gradient stopped (a trainable tower cannot lower L_AE by collapsing its own output).
    - The prior p(d) is N(0, I) in `latent_size` dimensions; the discriminator (one per modality, an MLP) sees the
      codes of every valid time step. The adversarial term of the encoders is the non-saturating GAN loss
      (-log D(S)); the discriminator's is the binary cross-entropy of prior samples (real) against codes (fake).
    - CGMM path (a, b): each modality's codes attend to the other's (multi-head cross-attention, both
      directions), are mean-pooled over time, and a sigmoid gate computed from both pooled codes mixes the two
      directions: h_ab = g * W_a c_{a<-b} + (1 - g) * W_b c_{b<-a}. The MMD term compares the pooled codes of a
      and b over the utterances of the batch (Gaussian kernels at several bandwidths).
    - FFM: a Transformer encoder (`num_fusion_layers` layers) over the tokens [h_ta, h_tv, h_av, u_t, u_a, u_v]
      (the three interaction features and the three pooled unimodal codes, projected to `hidden_size`) with a
      learned type embedding per token; tokens of absent modalities are masked; masked mean pooling, then an MLP
      head. With one modality (e.g. text only) every CGMM path is masked and the FFM sees u_t alone.
    - Task loss: L1 for regression (`num_labels=1`, as the MMSA baselines), cross-entropy for classification.

    Args:
        text_config (`dict` or `PretrainedConfig`, *optional*):
            Configuration of the text tower, built with `AutoModel.from_config`. Defaults to bert-base-uncased's
            architecture.
        use_text_encoder (`bool`, *optional*, defaults to `True`):
            Hold a text tower (takes `input_ids`); without one only precomputed `text_features` sequences are
            accepted.
        text_feature_size (`int`, *optional*):
            Size D_t of a text frame: the tower's hidden size, or of precomputed `text_features`.
        freeze_text_encoder (`bool`, *optional*, defaults to `False`):
            Keep the text tower's weights fixed.
        audio_config (`dict` or `PretrainedConfig`, *optional*):
            A Wav2Vec2 (or any `AutoModel` speech) configuration: when given, the model holds that tower and takes
            raw `input_values`. `None` (default): precomputed `audio_features` sequences only.
        audio_feature_size (`int`, *optional*, defaults to 5):
            Size D_a of an audio frame (the tower's hidden size when `audio_config` is set; 5 for MOSI's COVAREP
            in the MMSA files, 33 for SIMS' librosa features, 768 for wav2vec2-base).
        freeze_audio_encoder (`bool`, *optional*, defaults to `True`):
            Keep the speech tower frozen (it runs under `torch.no_grad`).
        visual_config (`dict` or `PretrainedConfig`, *optional*):
            A CLIP vision configuration (`model_type="clip_vision_model"`) or a ResNet one (`model_type="resnet"`, the
            offline demo's frame features): when given, the model holds that tower, takes `pixel_values`
            [B, L, 3, H, W] and uses its pooled output per frame. `None` (default):
            precomputed `visual_features` sequences only.
        visual_feature_size (`int`, *optional*, defaults to 20):
            Size D_v of a visual frame (the tower's hidden size with `visual_config`; 20 for MOSI's Facet, 709 for
            SIMS' OpenFace features in the MMSA files).
        freeze_visual_encoder (`bool`, *optional*, defaults to `True`):
            Keep the vision tower frozen.
        latent_size (`int`, *optional*, defaults to 64):
            Size of the autoencoders' codes S and of the prior N(0, I).
        autoencoder_hidden_size (`int`, *optional*, defaults to 128):
            Inner size of the encoder and decoder MLPs.
        discriminator_hidden_size (`int`, *optional*, defaults to 64):
            Inner size of the discriminator MLPs (two hidden layers, LeakyReLU 0.2).
        hidden_size (`int`, *optional*, defaults to 128):
            Size of the interaction and unimodal features in the FFM.
        num_attention_heads (`int`, *optional*, defaults to 4):
            Heads of the CGMM cross-attention (over `latent_size`) and of the FFM (over `hidden_size`).
        num_fusion_layers (`int`, *optional*, defaults to 1):
            Transformer layers of the FFM.
        fusion_intermediate_size (`int`, *optional*, defaults to 256):
            Feed-forward size of the FFM layers.
        classifier_hidden_size (`int`, *optional*, defaults to 128):
            Hidden size of the prediction MLP.
        hidden_dropout_prob (`float`, *optional*, defaults to 0.1):
            Dropout in the FFM and the head.
        attention_probs_dropout_prob (`float`, *optional*, defaults to 0.1):
            Dropout on the attention weights (CGMM and FFM).
        layer_norm_eps (`float`, *optional*, defaults to 1e-5):
            Epsilon of every LayerNorm (and of the input standardisation).
        normalization_momentum (`float`, *optional*, defaults to 0.01):
            Momentum of the running per-feature statistics that standardise each modality's frames before its
            autoencoder (a cumulative average over the first 1 / momentum training batches, then exponential).
        use_cgmm (`bool`, *optional*, defaults to `True`):
            Run the CGMM paths (the paper's "w/o CGMM" ablation sets it off: the FFM sees the unimodal features only;
            the MMD term between each pair's pooled codes stays, weighted by `mmd_weight`).
        mmd_kernel_scales (`Sequence[float]`, *optional*, defaults to `(0.5, 1.0, 2.0, 4.0)`):
            Bandwidths of the Gaussian kernels of the MMD (this package's choice), as multiples of `latent_size`:
            k(x, y) = sum_s exp(-||x - y||^2 / (s * latent_size)).
        reconstruction_weight (`float`, *optional*, defaults to 1.0):
            Weight of L_AE (mean over modalities of the mean squared error per element of the valid frames).
        adversarial_weight (`float`, *optional*, defaults to 0.1):
            Weight of the encoders' adversarial term.
        mmd_weight (`float`, *optional*, defaults to 0.1):
            Weight of the CGMM's MMD term (mean over the paths that have both modalities).
        regression_loss (`str`, *optional*, defaults to `"l1"`):
            Task loss of regression: `"l1"` (MMSA) or `"mse"`.
        sentiment_range (`Sequence[float]`, *optional*, defaults to `(-3.0, 3.0)`):
            Range of the regression targets (MOSI: [-3, 3], SIMS: [-1, 1]), stated in the model card; predictions
            are not clipped (the MMSA metrics clip them themselves).
        initializer_range (`float`, *optional*):
            Standard deviation of the normal initialiser of the fusion layers; `None`: 1/sqrt(fan_in) per layer.
        num_labels / id2label / label2id:
            `num_labels=1` (default): regression of a sentiment score. More labels: classification.

    Example:

    ```python
    >>> from mcn_cl import MCIHNConfig, MCIHNForMultimodalSentiment

    >>> configuration = MCIHNConfig()  # BERT-base text tower, MOSI's MMSA audio / visual features, regression
    >>> model = MCIHNForMultimodalSentiment(configuration)
    ```
    """

    model_type = "mcihn"
    # outputs that are not predictions: the Trainer keeps them out of `EvalPrediction.predictions` (logits only)
    keys_to_ignore_at_inference = [
        "reconstruction_loss",
        "adversarial_loss",
        "discriminator_loss",
        "mmd_loss",
        "pooled_output",
        "text_codes",
        "audio_codes",
        "visual_codes",
        "text_code_mask",
        "audio_code_mask",
        "visual_code_mask",
        "modality_mask",
    ]
    sub_configs = {"text_config": AutoConfig, "audio_config": AutoConfig, "visual_config": AutoConfig}

    def __init__(
        self,
        text_config: dict | PretrainedConfig | None = None,
        use_text_encoder: bool = True,
        text_feature_size: int | None = None,
        freeze_text_encoder: bool = False,
        audio_config: dict | PretrainedConfig | None = None,
        audio_feature_size: int = 5,
        freeze_audio_encoder: bool = True,
        visual_config: dict | PretrainedConfig | None = None,
        visual_feature_size: int = 20,
        freeze_visual_encoder: bool = True,
        latent_size: int = 64,
        autoencoder_hidden_size: int = 128,
        discriminator_hidden_size: int = 64,
        hidden_size: int = 128,
        num_attention_heads: int = 4,
        num_fusion_layers: int = 1,
        fusion_intermediate_size: int = 256,
        classifier_hidden_size: int = 128,
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        layer_norm_eps: float = 1e-5,
        normalization_momentum: float = 0.01,
        use_cgmm: bool = True,
        mmd_kernel_scales: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
        reconstruction_weight: float = 1.0,
        adversarial_weight: float = 0.1,
        mmd_weight: float = 0.1,
        regression_loss: str = "l1",
        sentiment_range: Sequence[float] = (-3.0, 3.0),
        initializer_range: float | None = None,
        **kwargs,
    ):
        self.text_config = _sub_config(text_config if text_config is not None else dict(_BERT_BASE), "bert")
        self.use_text_encoder = use_text_encoder
        self.text_feature_size = int(text_feature_size or self.text_config.hidden_size)
        self.freeze_text_encoder = freeze_text_encoder
        self.audio_config = _sub_config(audio_config, "wav2vec2")
        self.audio_feature_size = int(
            self.audio_config.hidden_size if self.audio_config is not None else audio_feature_size
        )
        self.freeze_audio_encoder = freeze_audio_encoder
        self.visual_config = _sub_config(visual_config, "clip_vision_model")
        self.visual_feature_size = int(
            _tower_size(self.visual_config) if self.visual_config is not None else visual_feature_size
        )
        self.freeze_visual_encoder = freeze_visual_encoder
        self.latent_size = latent_size
        self.autoencoder_hidden_size = autoencoder_hidden_size
        self.discriminator_hidden_size = discriminator_hidden_size
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.num_fusion_layers = num_fusion_layers
        self.fusion_intermediate_size = fusion_intermediate_size
        self.classifier_hidden_size = classifier_hidden_size
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.layer_norm_eps = layer_norm_eps
        self.normalization_momentum = normalization_momentum
        self.use_cgmm = use_cgmm
        self.mmd_kernel_scales = [float(s) for s in mmd_kernel_scales]
        self.reconstruction_weight = reconstruction_weight
        self.adversarial_weight = adversarial_weight
        self.mmd_weight = mmd_weight
        self.regression_loss = regression_loss
        self.sentiment_range = [float(x) for x in sentiment_range]
        self.initializer_range = initializer_range
        if "id2label" not in kwargs and "label2id" not in kwargs and "num_labels" not in kwargs:
            kwargs["num_labels"] = 1
        super().__init__(**kwargs)
        self._validate()

    @property
    def is_regression(self) -> bool:
        """One output: a sentiment score (regression); more: class logits."""
        return self.num_labels == 1

    def _validate(self) -> None:
        """Raise `ValueError` naming the field for every value the model cannot be built with."""

        def fail(field: str, message: str) -> None:
            raise ValueError(f"MCIHNConfig.{field}: {message}")

        for field in (
            "text_feature_size",
            "audio_feature_size",
            "visual_feature_size",
            "latent_size",
            "autoencoder_hidden_size",
            "discriminator_hidden_size",
            "hidden_size",
            "num_attention_heads",
            "num_fusion_layers",
            "fusion_intermediate_size",
            "classifier_hidden_size",
        ):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                fail(field, f"must be a positive integer, got {value!r}")
        for field in ("hidden_size", "latent_size"):
            if getattr(self, field) % self.num_attention_heads:
                fail(
                    field,
                    f"{getattr(self, field)} is not divisible by num_attention_heads={self.num_attention_heads}",
                )
        if self.use_text_encoder and self.text_feature_size != self.text_config.hidden_size:
            fail(
                "text_feature_size",
                f"{self.text_feature_size} differs from the text tower's hidden size {self.text_config.hidden_size}; "
                "set use_text_encoder=False to feed other text features",
            )
        for field in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= getattr(self, field) < 1.0:
                fail(field, f"must be in [0, 1), got {getattr(self, field)!r}")
        for field in ("reconstruction_weight", "adversarial_weight", "mmd_weight"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                fail(field, f"must be a finite number >= 0, got {value!r}")
        if not 0.0 < self.normalization_momentum <= 1.0:
            fail("normalization_momentum", f"must be in (0, 1], got {self.normalization_momentum!r}")
        if not self.mmd_kernel_scales or any(s <= 0 for s in self.mmd_kernel_scales):
            fail("mmd_kernel_scales", f"needs positive scales, got {self.mmd_kernel_scales}")
        if self.regression_loss not in REGRESSION_LOSSES:
            fail("regression_loss", f"must be one of {REGRESSION_LOSSES}, got {self.regression_loss!r}")
        if len(self.sentiment_range) != 2 or not self.sentiment_range[0] < self.sentiment_range[1]:
            fail("sentiment_range", f"must be (low, high) with low < high, got {self.sentiment_range}")
        if self.initializer_range is not None and not self.initializer_range > 0:
            fail("initializer_range", f"must be a positive number or None, got {self.initializer_range!r}")


__all__ = ["MCIHNConfig", "MCIHN_MODALITIES", "MCIHN_PAIRS"]

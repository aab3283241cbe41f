# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCN-CL model configuration.

This file travels to the Hub next to the weights (``save_pretrained`` copies it flat into the
checkpoint folder), so it imports only public libraries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from transformers import AutoConfig, PretrainedConfig
from transformers.utils import logging

logger = logging.get_logger(__name__)

# Copied from mcn_cl.processing.inputs_mcn_cl.MODALITIES
MODALITIES = ("text", "audio", "visual")
CONTEXT_ENCODERS = ("dialoguernn", "bigru", "transformer", "none")
KV_SOURCES = ("context", "previous_layer")
TEXT_POOLINGS = ("first", "mean")
UTTERANCE_POSITION_ENCODINGS = ("sinusoidal", "gated_sinusoidal", None)
# torchvision frame backbones, each kept whole with its ImageNet classifier, so that every one maps a frame to the
# same 1000-d vector (visual_feature_size 1000): the paper's ResNet-101 (44.5M parameters, 178.6 MB in float32),
# ResNet-18 (11.7M, 46.8 MB) and SqueezeNet 1.1 (1.2M, 4.9 MB; what the CPU demo configs use).
VISUAL_BACKBONES = ("resnet101", "resnet18", "squeezenet1_1")

# roberta-base's architecture: the default text tower when no `text_config` is given.
_ROBERTA_BASE = {
    "model_type": "roberta",
    "vocab_size": 50265,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "layer_norm_eps": 1e-5,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
}

# Label order of the published feature files (docs/DESIGN.md, "Decisions").
IEMOCAP_LABELS = ("hap", "sad", "neu", "ang", "exc", "fru")
MELD_LABELS = ("neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger")


class MCNCLConfig(PretrainedConfig):
    r"""
    This is the configuration class to store the configuration of a [`MCNCLModel`] or a
    [`MCNCLForEmotionRecognition`]. It is used to instantiate an MCN-CL model according to the specified
    arguments, defining the unimodal encoders, the dialogue context encoder, the multimodal cross-attention
    network (MCN), the contrastive projection heads and the classifier. Instantiating a configuration with the
    defaults yields the architecture of the paper (RoBERTa-base text tower, openSMILE IS10 audio, ResNet-101 +
    PSA visual, 256-d fusion) with the 6 IEMOCAP classes.

    Args:
        text_config (`dict` or `PretrainedConfig`, *optional*):
            Configuration of the text encoder, built with `AutoModel.from_config`. Defaults to roberta-base's
            architecture. Set `use_text_encoder=False` to take `text_features` instead of token ids.
        use_text_encoder (`bool`, *optional*, defaults to `True`):
            Whether the model holds a text encoder. Without one, only `text_features` are accepted.
        text_feature_size (`int`, *optional*):
            Size D_t of precomputed `text_features`. Defaults to the text encoder's hidden size (768 for
            roberta-base).
        text_pooling (`str`, *optional*, defaults to `"mean"`):
            How token states become one utterance vector: `"mean"` (mean over the attention mask) or `"first"` (the
            `<s>`/`[CLS]` token). The paper does not say; every benchmark here used `"mean"` (a sentence encoder
            such as all-MiniLM-L6-v2 is trained for it, and its first token is not a sentence vector: with
            `"first"` a fine-tuned MiniLM sat at the class prior after epoch 1 on the long-dialogue stand-in).
            Saved configs keep the value they were trained with.
        freeze_text_encoder (`bool`, *optional*, defaults to `False`):
            Keep the text encoder's weights fixed during training.
        audio_feature_size (`int`, *optional*, defaults to 1582):
            Size D_a of the openSMILE functionals (IS10: 1582, ComParE_2016: 6373, eGeMAPSv02: 88).
        visual_backbone (`str` or `None`, *optional*, defaults to `"resnet101"`):
            Frame encoder applied to `pixel_values`, a torchvision model with its 1000-way ImageNet classifier:
            `"resnet101"` (the paper's), `"resnet18"` or `"squeezenet1_1"` (lighter: 46.8 MB and 4.9 MB of
            weights instead of 178.6 MB), or `None` when only precomputed `visual_features` are fed.
        visual_feature_size (`int`, *optional*, defaults to 1000):
            Size D_v of one frame feature (1000, the ImageNet logits layer of every `visual_backbone`) or of one
            utterance-level visual vector from a feature file (342, 512).
        freeze_visual_backbone (`bool`, *optional*, defaults to `True`):
            Keep the frame backbone frozen (it runs under `torch.no_grad`).
        num_frames (`int`, *optional*, defaults to 16):
            Frames L sampled per utterance by the processor (informative for the processor; the model accepts
            any L).
        psa_kernel_sizes (`Sequence[int]`, *optional*, defaults to `(3, 5, 7, 9)`):
            Kernel sizes of the PSA branches (eq. 1: 2(s+1)+1); each branch gets hidden_size / S channels.
        psa_se_reduction (`int`, *optional*, defaults to 4):
            Reduction ratio of the SE weight (eq. 4: C -> C/4 -> C).
        use_psa (`bool`, *optional*, defaults to `True`):
            Apply the Pyramid Squeeze Attention over the frames (the paper's "w/o PSA" ablation sets it off).
        hidden_size (`int`, *optional*, defaults to 256):
            Size of every modality's representation inside the MCN.
        num_attention_heads (`int`, *optional*, defaults to 8):
            Heads of each cross-attention.
        num_mcn_layers (`int`, *optional*, defaults to 2):
            Number T of stacked MCN layers.
        intermediate_size (`int`, *optional*, defaults to 1024):
            Inner size of the MCN feed-forward networks.
        hidden_dropout_prob (`float`, *optional*, defaults to 0.1):
            Dropout on projections, residual branches and the classifier.
        attention_probs_dropout_prob (`float`, *optional*, defaults to 0.1):
            Dropout on the cross-attention weights.
        layer_norm_eps (`float`, *optional*, defaults to 1e-5):
            Epsilon of every LayerNorm.
        context_encoder (`str`, *optional*, defaults to `"dialoguernn"`):
            Dialogue context encoder over the N utterances of each modality: `"dialoguernn"` (speaker-aware
            GRU), `"bigru"`, `"transformer"` or `"none"`.
        num_context_layers (`int`, *optional*, defaults to 1):
            Layers of the `"transformer"` context encoder.
        max_speakers (`int`, *optional*, defaults to 16):
            Speaker embeddings of the context encoder (`speaker_ids` must be below it).
        utterance_position_encoding (`str` or `None`, *optional*, defaults to `"gated_sinusoidal"`):
            Utterance-order information for the encoders that have none of their own: sinusoidal embeddings of
            the utterance index (0, 1, ... inside the dialogue) added to the features before the `"transformer"`
            context encoder, and before the MCN with `context_encoder="none"` (the recurrent encoders know the
            order). `"gated_sinusoidal"`: the embeddings times a learned scalar gate (one per modality's context
            encoder) that starts at 0, so a fresh model is order-blind and learns how much of the order to use.
            `"sinusoidal"`: the embeddings at full amplitude (1 per dimension), the default before; on features of
            standard deviation about 0.2 they drown the utterances, and fresh `transformer` / `none` models
            trained far worse and sometimes sat at the class prior, on long and short dialogues (BENCHMARKS.md,
            "Long dialogues"). Checkpoints saved with it keep it (their `config.json` names it). `None`: order-blind.
        causal (`bool`, *optional*, defaults to `False`):
            Online mode: every utterance sees only itself and the past. The context encoders run forward only
            (one DialogueRNN direction, a unidirectional GRU, a causal mask in the transformer) and every MCN
            cross-attention of utterance i attends to keys j <= i. Only a causal model can stream
            ([`MCNCLForEmotionRecognition.init_stream`]): a bidirectional one's predictions depend on future
            utterances.
        query_order (`dict`, *optional*):
            For each query modality, the two key modalities in the order they are attended to. Defaults to
            text -> (audio, visual), audio -> (text, visual), visual -> (text, audio).
        kv_source (`str`, *optional*, defaults to `"context"`):
            Keys/values of each cross-attention: `"context"` uses the context features C^a, C^v (eqs. 7, 13);
            `"previous_layer"` uses the key modality's output of the previous MCN layer.
        use_mcn (`bool`, *optional*, defaults to `True`):
            Run the cross-attention network (off: the context features go straight to the heads; the paper's
            "w/o MCN-CL" ablation also sets the contrastive weights to 0).
        projection_size (`int`, *optional*, defaults to 128):
            Output size of the contrastive projection heads (eqs. 15-20).
        classifier_hidden_size (`int`, *optional*, defaults to 256):
            Size of the fused FC layer (eq. 29) and of the MLP's layers (eq. 30).
        contrastive_temperature (`float`, *optional*, defaults to 0.1):
            Temperature tau of the supervised contrastive terms (eq. 26).
        hard_negative_ratio (`float`, *optional*, defaults to 0.3):
            Share rho of the most similar negatives that enter each anchor's denominator (eq. 25); 1.0 gives
            plain supervised contrastive learning (eq. 24).
        contrastive_weight_text (`float`, *optional*, defaults to 0.1):
            alpha in eq. 27.
        contrastive_weight_audio (`float`, *optional*, defaults to 0.1):
            beta in eq. 27.
        contrastive_weight_visual (`float`, *optional*, defaults to 0.1):
            gamma in eq. 27.
        class_weights (`list[float]`, *optional*):
            Per-class weights of the cross-entropy (e.g. inverse frequency), one per label, each > 0.
        id2label / label2id (`dict`, *optional*):
            Label maps. Default: the 6 IEMOCAP classes in the published order.
        initializer_range (`float`, *optional*):
            Standard deviation of the normal initialiser of the fusion layers' weights. Default (`None`):
            1/sqrt(fan_in) per layer (LeCun normal), which keeps the signal's scale through the projection, MCN and
            classifier layers; a fixed 0.02 (the usual `transformers` value) shrinks it about 3x per 256-d layer
            and leaves short runs at the class prior.
        mcn_residual_init_scale (`float`, *optional*, defaults to 0.0):
            Scale of the initial weights of the last projection of every MCN residual branch (each cross-attention's
            `output`, each feed-forward block's `fc2`), relative to `initializer_range`. With 0.0 a fresh MCN layer
            starts as the identity on its (LayerNorm'd) input, so the classifier sees each utterance's context
            features from the first step and the cross-modal paths grow in as they learn (the idea of ReZero /
            SkipInit / LayerScale, without new weights). With 1.0 (the plain initialisation), the fresh branches add a
            component common to the whole dialogue (the mean pairwise cosine between a dialogue's utterances goes
            from 0.23 to 0.81 through the MCN), which the model must first learn to undo: on corpora of few, long
            dialogues a fresh model then sat at the class prior through its first epoch (BENCHMARKS.md, "Long
            dialogues"). Only affects fresh weights: loaded checkpoints keep theirs.

    Example:

    ```python
    >>> from mcn_cl import MCNCLConfig, MCNCLForEmotionRecognition

    >>> # the paper's architecture (roberta-base, IS10, ResNet-101 + PSA), 6 IEMOCAP classes
    >>> configuration = MCNCLConfig()
    >>> model = MCNCLForEmotionRecognition(configuration)
    >>> configuration = model.config
    ```
    """

    model_type = "mcn_cl"
    sub_configs = {"text_config": AutoConfig}

    def __init__(
        self,
        text_config: dict | PretrainedConfig | None = None,
        use_text_encoder: bool = True,
        text_feature_size: int | None = None,
        text_pooling: str = "mean",
        freeze_text_encoder: bool = False,
        audio_feature_size: int = 1582,
        visual_backbone: str | None = "resnet101",
        visual_feature_size: int = 1000,
        freeze_visual_backbone: bool = True,
        num_frames: int = 16,
        psa_kernel_sizes: Sequence[int] = (3, 5, 7, 9),
        psa_se_reduction: int = 4,
        use_psa: bool = True,
        hidden_size: int = 256,
        num_attention_heads: int = 8,
        num_mcn_layers: int = 2,
        intermediate_size: int = 1024,
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        layer_norm_eps: float = 1e-5,
        context_encoder: str = "dialoguernn",
        num_context_layers: int = 1,
        max_speakers: int = 16,
        utterance_position_encoding: str | None = "gated_sinusoidal",
        causal: bool = False,
        query_order: dict[str, Sequence[str]] | None = None,
        kv_source: str = "context",
        use_mcn: bool = True,
        projection_size: int = 128,
        classifier_hidden_size: int = 256,
        contrastive_temperature: float = 0.1,
        hard_negative_ratio: float = 0.3,
        contrastive_weight_text: float = 0.1,
        contrastive_weight_audio: float = 0.1,
        contrastive_weight_visual: float = 0.1,
        class_weights: Sequence[float] | None = None,
        initializer_range: float | None = None,
        mcn_residual_init_scale: float = 0.0,
        **kwargs,
    ):
        if text_config is None:
            text_config = dict(_ROBERTA_BASE)
        if isinstance(text_config, dict):
            text_config = dict(text_config)
            model_type = text_config.pop("model_type", "roberta")
            text_config = AutoConfig.for_model(model_type, **text_config)
        self.text_config = text_config
        self.use_text_encoder = use_text_encoder
        self.text_feature_size = int(text_feature_size or text_config.hidden_size)
        self.text_pooling = text_pooling
        self.freeze_text_encoder = freeze_text_encoder
        self.audio_feature_size = audio_feature_size
        self.visual_backbone = visual_backbone
        self.visual_feature_size = visual_feature_size
        self.freeze_visual_backbone = freeze_visual_backbone
        self.num_frames = num_frames
        self.psa_kernel_sizes = list(psa_kernel_sizes)
        self.psa_se_reduction = psa_se_reduction
        self.use_psa = use_psa
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.num_mcn_layers = num_mcn_layers
        self.intermediate_size = intermediate_size
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.layer_norm_eps = layer_norm_eps
        self.context_encoder = context_encoder
        self.num_context_layers = num_context_layers
        self.max_speakers = max_speakers
        self.utterance_position_encoding = utterance_position_encoding
        self.causal = causal
        if query_order is None:
            query_order = {
                "text": ["audio", "visual"],
                "audio": ["text", "visual"],
                "visual": ["text", "audio"],
            }
        self.query_order = {query: list(keys) for query, keys in query_order.items()}
        self.kv_source = kv_source
        self.use_mcn = use_mcn
        self.projection_size = projection_size
        self.classifier_hidden_size = classifier_hidden_size
        self.contrastive_temperature = contrastive_temperature
        self.hard_negative_ratio = hard_negative_ratio
        self.contrastive_weight_text = contrastive_weight_text
        self.contrastive_weight_audio = contrastive_weight_audio
        self.contrastive_weight_visual = contrastive_weight_visual
        self.class_weights = list(class_weights) if class_weights is not None else None
        self.initializer_range = initializer_range
        self.mcn_residual_init_scale = mcn_residual_init_scale

        if "id2label" not in kwargs and "label2id" not in kwargs and "num_labels" not in kwargs:
            kwargs["id2label"] = dict(enumerate(IEMOCAP_LABELS))
        super().__init__(**kwargs)
        self._validate()

    def _validate(self) -> None:
        """Raise `ValueError` naming the field for every value the model cannot be built with."""

        def fail(field: str, message: str) -> None:
            raise ValueError(f"MCNCLConfig.{field}: {message}")

        for field in (
            "hidden_size",
            "num_attention_heads",
            "num_mcn_layers",
            "intermediate_size",
            "audio_feature_size",
            "visual_feature_size",
            "text_feature_size",
            "num_frames",
            "psa_se_reduction",
            "projection_size",
            "classifier_hidden_size",
            "max_speakers",
            "num_context_layers",
        ):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                fail(field, f"must be a positive integer, got {value!r}")
        if self.initializer_range is not None and not (
            isinstance(self.initializer_range, int | float) and self.initializer_range > 0
        ):
            fail("initializer_range", f"must be a positive number or None, got {self.initializer_range!r}")
        scale = self.mcn_residual_init_scale
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 <= scale < float("inf"):
            fail("mcn_residual_init_scale", f"must be a finite number >= 0, got {scale!r}")
        if self.hidden_size % self.num_attention_heads:
            fail(
                "hidden_size",
                f"{self.hidden_size} is not divisible by num_attention_heads={self.num_attention_heads}",
            )
        groups = len(self.psa_kernel_sizes)
        if groups == 0:
            fail("psa_kernel_sizes", "needs at least one kernel size")
        if self.hidden_size % groups:
            fail("hidden_size", f"{self.hidden_size} is not divisible by the {groups} PSA branches")
        for k in self.psa_kernel_sizes:
            if not isinstance(k, int) or k <= 0 or k % 2 == 0:
                fail("psa_kernel_sizes", f"kernel sizes must be odd positive integers, got {k!r}")
        if self.hidden_size % self.psa_se_reduction:
            fail(
                "psa_se_reduction",
                f"hidden_size={self.hidden_size} is not divisible by {self.psa_se_reduction}",
            )
        if self.use_text_encoder and self.text_feature_size != self.text_config.hidden_size:
            fail(
                "text_feature_size",
                f"{self.text_feature_size} differs from the text encoder's hidden size "
                f"{self.text_config.hidden_size}; set use_text_encoder=False to feed other text features",
            )
        if self.visual_backbone is not None and self.visual_backbone not in VISUAL_BACKBONES:
            fail(
                "visual_backbone", f"must be one of {VISUAL_BACKBONES} or None, got {self.visual_backbone!r}"
            )
        if self.visual_backbone is not None and self.visual_feature_size != 1000:
            fail(
                "visual_feature_size",
                f"must be 1000 with the {self.visual_backbone} backbone (its ImageNet logits), "
                f"got {self.visual_feature_size}",
            )
        if self.context_encoder not in CONTEXT_ENCODERS:
            fail("context_encoder", f"must be one of {CONTEXT_ENCODERS}, got {self.context_encoder!r}")
        if self.kv_source not in KV_SOURCES:
            fail("kv_source", f"must be one of {KV_SOURCES}, got {self.kv_source!r}")
        if self.utterance_position_encoding not in UTTERANCE_POSITION_ENCODINGS:
            fail(
                "utterance_position_encoding",
                f"must be one of {UTTERANCE_POSITION_ENCODINGS}, got {self.utterance_position_encoding!r}",
            )
        if not isinstance(self.causal, bool):
            fail("causal", f"must be True or False, got {self.causal!r}")
        if self.text_pooling not in TEXT_POOLINGS:
            fail("text_pooling", f"must be one of {TEXT_POOLINGS}, got {self.text_pooling!r}")
        if set(self.query_order) != set(MODALITIES):
            fail("query_order", f"needs one entry per modality {MODALITIES}, got {sorted(self.query_order)}")
        for query, keys in self.query_order.items():
            if sorted(keys) != sorted(m for m in MODALITIES if m != query):
                fail(
                    "query_order", f"{query!r} must attend to the two other modalities once each, got {keys}"
                )
        for field in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, field)
            if not 0.0 <= value < 1.0:
                fail(field, f"must be in [0, 1), got {value!r}")
        if not (isinstance(self.contrastive_temperature, int | float) and self.contrastive_temperature > 0):
            fail("contrastive_temperature", f"must be > 0, got {self.contrastive_temperature!r}")
        if not 0.0 < self.hard_negative_ratio <= 1.0:
            fail("hard_negative_ratio", f"must be in (0, 1], got {self.hard_negative_ratio!r}")
        for field in ("contrastive_weight_text", "contrastive_weight_audio", "contrastive_weight_visual"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                fail(field, f"must be a finite number >= 0, got {value!r}")
        if self.class_weights is not None:
            if len(self.class_weights) != self.num_labels:
                fail("class_weights", f"has {len(self.class_weights)} entries for {self.num_labels} labels")
            if any(
                not isinstance(w, int | float) or isinstance(w, bool) or not math.isfinite(w) or w <= 0
                for w in self.class_weights
            ):
                fail("class_weights", f"entries must be finite numbers > 0, got {self.class_weights}")

    @property
    def contrastive_weights(self) -> dict[str, float]:
        """alpha, beta, gamma of eq. 27, by modality."""
        return {
            "text": self.contrastive_weight_text,
            "audio": self.contrastive_weight_audio,
            "visual": self.contrastive_weight_visual,
        }


__all__ = ["MCNCLConfig", "IEMOCAP_LABELS", "MELD_LABELS"]

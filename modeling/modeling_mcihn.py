# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""PyTorch MCIHN: "A Hybrid Network Model Based on Multi-path Cross-modal Interaction for Multimodal Emotion
Recognition" (Zhang, Yang, Sun, Pang, Xu; arXiv 2510.24827). Utterance-level: one sentiment score (or class) per
utterance from its text, speech and face-video sequences.

What the available paper text names: the Feature Reconstruction Module (adversarial autoencoders,
`MCIHNAdversarialAutoencoder`, one per modality), the Cross-modal Gate Mechanism Model with an MMD objective
(`MCIHNCrossModalGate`, one per modality pair), the Feature Fusion Module (`MCIHNFusion`) and the datasets.
Everything else is this package's choice, not named by the paper and documented in `MCIHNConfig`: the feature
extractors (BERT / MiniLM text towers, Wav2Vec2 or openSMILE low-level descriptors for speech, CLIP or ResNet
frame features for faces, or precomputed sequences), the MLP shapes, the MMD kernels, the input standardisation.

This file travels to the Hub next to the weights (`save_pretrained` copies it flat into the checkpoint folder so
that `AutoModel.from_pretrained(folder, trust_remote_code=True)` works without the `mcn_cl` package): it imports
only its sibling `configuration_mcihn` (relative import, same folder) and public libraries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput, logging

from .configuration_mcihn import MCIHN_MODALITIES, MCIHN_PAIRS, MCIHNConfig

logger = logging.get_logger(__name__)


@dataclass
class MCIHNModelOutput(ModelOutput):
    r"""
    Output of [`MCIHNModel`].

    Args:
        reconstruction_loss (`torch.FloatTensor` of shape `()`):
            L_AE: mean squared error between each modality's (standardised) input frames and their
            reconstruction, averaged over the valid frames and the modalities present.
        adversarial_loss (`torch.FloatTensor` of shape `()`):
            The encoders' (generator's) term: -log D(S) over the valid codes, averaged over the modalities. Its
            gradient reaches the encoders only (the discriminators' weights are detached in it).
        discriminator_loss (`torch.FloatTensor` of shape `()`):
            The discriminators' term: BCE of prior samples N(0, I) (real) against the codes (fake, detached), so its
            gradient reaches the discriminators only.
        mmd_loss (`torch.FloatTensor` of shape `()`):
            The CGMM objective: MMD between the pooled codes of the two modalities of each path, averaged over the
            paths with both modalities in at least two utterances (0 otherwise).
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 6, hidden_size)`):
            The FFM output for the tokens [h_ta, h_tv, h_av, u_t, u_a, u_v].
        pooled_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
            Mean of the valid FFM tokens.
        token_mask (`torch.BoolTensor` of shape `(batch_size, 6)`):
            Which FFM tokens are valid (their modalities are present).
        text_codes / audio_codes / visual_codes (`torch.FloatTensor` of shape `(batch_size, frames, latent_size)`):
            The autoencoders' codes S (zeros on padding); `None` for a modality absent from the batch.
        text_code_mask / audio_code_mask / visual_code_mask (`torch.BoolTensor` of shape `(batch_size, frames)`):
            The valid frames of each modality's codes.
        modality_mask (`torch.BoolTensor` of shape `(batch_size, 3)`):
            Modality (text, audio, visual) present for the utterance.
    """

    reconstruction_loss: torch.FloatTensor | None = None
    adversarial_loss: torch.FloatTensor | None = None
    discriminator_loss: torch.FloatTensor | None = None
    mmd_loss: torch.FloatTensor | None = None
    last_hidden_state: torch.FloatTensor | None = None
    pooled_output: torch.FloatTensor | None = None
    token_mask: torch.BoolTensor | None = None
    text_codes: torch.FloatTensor | None = None
    audio_codes: torch.FloatTensor | None = None
    visual_codes: torch.FloatTensor | None = None
    text_code_mask: torch.BoolTensor | None = None
    audio_code_mask: torch.BoolTensor | None = None
    visual_code_mask: torch.BoolTensor | None = None
    modality_mask: torch.BoolTensor | None = None


@dataclass
class MCIHNSentimentOutput(ModelOutput):
    r"""
    Output of [`MCIHNForMultimodalSentiment`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` are given):
            The task loss only (L1 / MSE for regression, cross-entropy for classification). The auxiliary terms
            below are weighted and added by the trainer ([`MCIHNTrainer`]), which also steps the discriminators.
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Regression: the sentiment score (`num_labels=1`); classification: class scores before softmax.
        reconstruction_loss, adversarial_loss, discriminator_loss, mmd_loss, pooled_output, codes, masks:
            see [`MCIHNModelOutput`].
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    reconstruction_loss: torch.FloatTensor | None = None
    adversarial_loss: torch.FloatTensor | None = None
    discriminator_loss: torch.FloatTensor | None = None
    mmd_loss: torch.FloatTensor | None = None
    pooled_output: torch.FloatTensor | None = None
    text_codes: torch.FloatTensor | None = None
    audio_codes: torch.FloatTensor | None = None
    visual_codes: torch.FloatTensor | None = None
    text_code_mask: torch.BoolTensor | None = None
    audio_code_mask: torch.BoolTensor | None = None
    visual_code_mask: torch.BoolTensor | None = None
    modality_mask: torch.BoolTensor | None = None


# ------------------------------------------------------------------------------------------------------ helpers


# Copied from mcn_cl.modeling.unimodal_encoders_mcn_cl._masked_mean
def _masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of `x` over `dim` where `mask` (broadcastable, same rank) is true; 0 where nothing is valid."""
    x = torch.where(mask.bool(), x, 0.0)
    return x.sum(dim) / mask.to(x.dtype).sum(dim).clamp(min=1.0)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `x` [B, T, D] over the frames where `mask` [B, T] is true: [B, D] (0 where none is)."""
    return _masked_mean(x, mask.unsqueeze(-1), dim=1)


def mmd_rbf(x: torch.Tensor, y: torch.Tensor, scales: Sequence[float] = (0.5, 1.0, 2.0, 4.0)) -> torch.Tensor:
    """Maximum mean discrepancy (biased V-statistic) between samples `x` [M, d] and `y` [K, d] with a sum of Gaussian
    kernels k(a, b) = sum_s exp(-||a - b||^2 / (s * d)). 0 for identical samples; larger when the distributions
    differ. Used for the CGMM objective and to measure how far codes are from the prior N(0, I)."""
    dim = x.shape[-1]
    xy = torch.cat([x, y]).float()
    distances = torch.cdist(xy, xy).pow(2)
    kernel = sum(torch.exp(-distances / (s * dim)) for s in scales)
    m = x.shape[0]
    return kernel[:m, :m].mean() + kernel[m:, m:].mean() - 2 * kernel[:m, m:].mean()


def _mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.GELU) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------- feature extraction


class MCIHNTextEncoder(nn.Module):
    """Text: `AutoModel.from_config(config.text_config)` (BERT by default) -> token states [B, T, D_t]; or the
    precomputed `text_features` sequences as given."""

    def __init__(self, config: MCIHNConfig):
        super().__init__()
        self.encoder = AutoModel.from_config(config.text_config) if config.use_text_encoder else None
        if self.encoder is not None and config.freeze_text_encoder:
            self.encoder.requires_grad_(False)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.encoder is None:
            raise ValueError(
                "input_ids were given but this model has no text tower (config.use_text_encoder=False); "
                "pass text_features instead."
            )
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return states, attention_mask.bool()


class MCIHNAudioEncoder(nn.Module):
    """Speech: a Wav2Vec2 tower built from `config.audio_config` (frozen by default) on raw 16 kHz waveforms ->
    frame states [B, T', D_a] with their mask.

    A group-norm feature encoder (`feat_extract_norm="group"`, e.g. wav2vec2-base) normalises its first convolution
    over the whole padded waveform, so its output depends on the padding: such a tower runs on each utterance's
    unpadded waveform (the result does not depend on the batch). A waveform shorter than the convolutions' receptive
    field (25 ms for wav2vec2-base) gives no frame: its frames are all masked (and so is the modality)."""

    def __init__(self, config: MCIHNConfig):
        super().__init__()
        self.encoder = AutoModel.from_config(config.audio_config)
        self.frozen = config.freeze_audio_encoder
        self.per_utterance = getattr(config.audio_config, "feat_extract_norm", "layer") == "group"
        if self.frozen:
            self.encoder.requires_grad_(False)

    def _run(self, values: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        return self.encoder(values, attention_mask=attention_mask).last_hidden_state

    def forward(
        self, input_values: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch, samples = input_values.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_values, dtype=torch.long)
        lengths = attention_mask.long().sum(-1)
        frames = self.encoder._get_feat_extract_output_lengths(lengths).clamp(min=0)
        size = self.encoder.config.hidden_size
        dtype = next(self.encoder.parameters()).dtype
        if self.frozen:
            self.encoder.eval()
        with torch.set_grad_enabled(not self.frozen and torch.is_grad_enabled()):
            usable = (frames > 0).nonzero().flatten().tolist()
            longest = int(frames.max()) if usable else 0
            states = input_values.new_zeros(batch, max(longest, 1), size, dtype=dtype)
            if self.per_utterance:
                rows = [self._run(input_values[b : b + 1, : int(lengths[b])], None)[0] for b in usable]
            elif usable:
                keep = torch.tensor(usable, device=input_values.device)
                width = int(lengths[keep].max())
                out = self._run(input_values[keep, :width], attention_mask[keep, :width])
                rows = [out[i, : int(frames[b])] for i, b in enumerate(usable)]
            else:
                rows = []
            for b, row in zip(usable, rows):
                states[b, : row.shape[0]] = row[: int(frames[b])]
        mask = torch.arange(states.shape[1], device=states.device) < frames.unsqueeze(1)
        return states, mask


class MCIHNVisualEncoder(nn.Module):
    """Face video: a vision tower built from `config.visual_config` (a CLIP vision model or a ResNet; frozen by
    default), its pooled output per frame -> [B, L, D_v]."""

    def __init__(self, config: MCIHNConfig):
        super().__init__()
        self.encoder = AutoModel.from_config(config.visual_config)
        self.frozen = config.freeze_visual_encoder
        if self.frozen:
            self.encoder.requires_grad_(False)

    def forward(
        self, pixel_values: torch.Tensor, frame_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch, frames = pixel_values.shape[:2]
        if self.frozen:
            self.encoder.eval()
        with torch.set_grad_enabled(not self.frozen and torch.is_grad_enabled()):
            pooled = self.encoder(pixel_values=pixel_values.flatten(0, 1)).pooler_output
        states = pooled.reshape(batch, frames, -1)  # CLIP: [N, D]; ResNet: [N, C, 1, 1]
        if frame_mask is None:
            frame_mask = torch.ones(batch, frames, dtype=torch.bool, device=states.device)
        return states, frame_mask.bool()


# ------------------------------------------------------------------------------ Feature Reconstruction Module


class MCIHNInputStandardizer(nn.Module):
    """Per-feature standardisation of a modality's frames, (x - mean) / sqrt(var + eps), with one mean and variance
    per feature dimension estimated on the valid frames of the training batches (buffers: saved with the weights).

    Unlike a per-frame LayerNorm it keeps each frame's scale and offset (a loud and a quiet frame stay different;
    on MOSI's 5-d COVAREP frames a per-frame LayerNorm removes 2 of the 5 degrees of freedom), and unlike batch
    statistics at inference it makes a prediction independent of the rest of its batch. In training mode each
    batch first updates the running statistics (a cumulative average over the first 1 / momentum batches, then an
    exponential average, so that the statistics follow a tower that is being fine-tuned); evaluation uses them as
    stored. A model that never trained has mean 0, variance 1 (identity).
    """

    def __init__(self, size: int, momentum: float = 0.01, eps: float = 1e-5):
        super().__init__()
        self.momentum, self.eps = float(momentum), float(eps)
        self.register_buffer("running_mean", torch.zeros(size))
        self.register_buffer("running_var", torch.ones(size))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, features: torch.Tensor, mask: torch.Tensor) -> None:
        """Fold the valid frames of one training batch into the running statistics."""
        valid = features[mask].float()
        if valid.shape[0] == 0:
            return
        mean, var = valid.mean(0), valid.var(0, unbiased=False)
        rate = max(self.momentum, 1.0 / (int(self.num_batches_tracked) + 1))
        shift = mean - self.running_mean
        self.running_var.mul_(1 - rate).add_(rate * var + rate * (1 - rate) * shift.pow(2))
        self.running_mean.add_(rate * shift)
        self.num_batches_tracked.add_(1)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """features [B, T, D], mask [B, T] -> standardised features (the padding is left to the caller)."""
        if self.training and torch.is_grad_enabled():
            self.update(features.detach(), mask)
        scale = torch.rsqrt(self.running_var + self.eps)
        return (features - self.running_mean.to(features.dtype)) * scale.to(features.dtype)


class MCIHNAdversarialAutoencoder(nn.Module):
    """Adversarial autoencoder of one modality (Makhzani et al.): encoder E maps each (standardised) frame of X to a
    code S, decoder D reconstructs X^ (L_AE = ||X - X^||^2), and a discriminator tells samples of the prior N(0, I)
    from the codes; the encoder is trained to fool it, so that the codes follow the prior."""

    def __init__(self, config: MCIHNConfig, input_size: int):
        super().__init__()
        hidden, latent = config.autoencoder_hidden_size, config.latent_size
        self.input_norm = MCIHNInputStandardizer(
            input_size, config.normalization_momentum, config.layer_norm_eps
        )
        self.encoder = _mlp([input_size, hidden, latent])
        self.decoder = _mlp([latent, hidden, input_size])
        disc = config.discriminator_hidden_size
        self.discriminator = nn.Sequential(
            nn.Linear(latent, disc),
            nn.LeakyReLU(0.2),
            nn.Linear(disc, disc),
            nn.LeakyReLU(0.2),
            nn.Linear(disc, 1),
        )

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features [B, T, D], mask [B, T] -> (codes S [B, T, latent] (0 on padding), L_AE over the valid frames)."""
        x = self.input_norm(features.to(self.encoder[0].weight.dtype), mask)
        x = torch.where(mask.unsqueeze(-1), x, 0.0)
        codes = torch.where(mask.unsqueeze(-1), self.encoder(x), 0.0)
        target = x.detach()  # stop-gradient: a trainable tower must not lower L_AE by collapsing its output
        error = (self.decoder(codes) - target).pow(2).mean(-1)
        reconstruction = (error * mask).sum() / mask.sum().clamp(min=1)
        return codes, reconstruction

    def adversarial_terms(self, codes: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(encoder's term -log D(S), discriminator's BCE(prior = real, codes = fake)) over the valid frames.

        The encoder's term runs the discriminator with detached weights (its gradient reaches the encoder only);
        the discriminator's runs on detached codes (its gradient reaches the discriminator only): one backward of
        their sum trains each side on its own objective, and an alternating trainer can step them separately.
        """
        valid = codes[mask]
        detached = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        fooled = torch.func.functional_call(self.discriminator, detached, (valid,))
        generator = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
        real = self.discriminator(torch.randn_like(valid))
        fake = self.discriminator(valid.detach())
        discriminator = 0.5 * (
            F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        )
        return generator, discriminator


# ---------------------------------------------------------------------------- Cross-modal Gate Mechanism Model


class MCIHNCrossModalGate(nn.Module):
    """One CGMM path (a, b): the codes of a attend to those of b and vice versa (multi-head cross-attention with a
    residual), each direction is mean-pooled over its frames, and a sigmoid gate computed from both modalities'
    pooled codes mixes the two directions into the interaction feature h_ab [B, hidden_size]."""

    def __init__(self, config: MCIHNConfig):
        super().__init__()
        latent = config.latent_size
        self.attend_a_to_b = nn.MultiheadAttention(
            latent, config.num_attention_heads, dropout=config.attention_probs_dropout_prob, batch_first=True
        )
        self.attend_b_to_a = nn.MultiheadAttention(
            latent, config.num_attention_heads, dropout=config.attention_probs_dropout_prob, batch_first=True
        )
        self.gate = nn.Linear(2 * latent, config.hidden_size)
        self.project_a = nn.Linear(latent, config.hidden_size)
        self.project_b = nn.Linear(latent, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    @staticmethod
    def _attend(attention: nn.MultiheadAttention, query, query_mask, keys, key_mask) -> torch.Tensor:
        # a row without any valid key would give NaN: let it attend to its first (zero) frame, zeroed out later
        safe = key_mask.clone()
        safe[:, 0] |= ~key_mask.any(1)
        attended, _ = attention(query, keys, keys, key_padding_mask=~safe, need_weights=False)
        return masked_mean(query + attended, query_mask)

    def forward(
        self, codes_a: torch.Tensor, mask_a: torch.Tensor, codes_b: torch.Tensor, mask_b: torch.Tensor
    ) -> torch.Tensor:
        """codes [B, T_a / T_b, latent], masks [B, T] -> h_ab [B, hidden_size]."""
        c_ab = self._attend(self.attend_a_to_b, codes_a, mask_a, codes_b, mask_b)
        c_ba = self._attend(self.attend_b_to_a, codes_b, mask_b, codes_a, mask_a)
        gate = torch.sigmoid(
            self.gate(torch.cat([masked_mean(codes_a, mask_a), masked_mean(codes_b, mask_b)], -1))
        )
        return self.norm(gate * self.project_a(c_ab) + (1 - gate) * self.project_b(c_ba))


# ------------------------------------------------------------------------------------- Feature Fusion Module


class MCIHNFusion(nn.Module):
    """FFM: multi-head self-attention (a Transformer encoder) over the six tokens [h_ta, h_tv, h_av, u_t, u_a, u_v]
    with a learned embedding per token type; tokens of absent modalities are masked; masked mean pooling."""

    NUM_TOKENS = len(MCIHN_PAIRS) + len(MCIHN_MODALITIES)

    def __init__(self, config: MCIHNConfig):
        super().__init__()
        self.token_type = nn.Embedding(self.NUM_TOKENS, config.hidden_size)
        layer = nn.TransformerEncoderLayer(
            config.hidden_size,
            config.num_attention_heads,
            config.fusion_intermediate_size,
            dropout=config.hidden_dropout_prob,
            activation="gelu",
            layer_norm_eps=config.layer_norm_eps,
            batch_first=True,
            norm_first=True,
        )
        self.layers = nn.TransformerEncoder(layer, config.num_fusion_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, tokens: torch.Tensor, token_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens [B, 6, H], token_mask [B, 6] -> (states [B, 6, H], pooled [B, H])."""
        types = torch.arange(self.NUM_TOKENS, device=tokens.device)
        states = self.layers(tokens + self.token_type(types), src_key_padding_mask=~token_mask)
        states = self.norm(states)
        return states, masked_mean(states, token_mask)


# ------------------------------------------------------------------------------------------------------ models


class MCIHNPreTrainedModel(PreTrainedModel):
    config: MCIHNConfig
    config_class = MCIHNConfig
    base_model_prefix = "mcihn"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = False
    _no_split_modules = ["MCIHNAdversarialAutoencoder", "MCIHNCrossModalGate", "MCIHNFusion"]
    # `forward` takes `**kwargs` (unused collator keys), which a plain `Trainer` would read as accepting
    # `num_items_in_batch`; the task loss is a per-batch mean.
    accepts_loss_kwargs = False

    def _init_weights(self, module: nn.Module) -> None:
        """Fusion layers: normal(0, std), std = `config.initializer_range` or 1/sqrt(fan_in). The pretrained towers
        (`PreTrainedModel`s) initialise themselves; attention blocks keep PyTorch's initialisation."""
        if isinstance(module, nn.Linear):
            std = self.config.initializer_range or module.weight.shape[1] ** -0.5
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm) and module.weight is not None:
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=0.02)
        elif isinstance(module, MCIHNInputStandardizer):
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)


class MCIHNModel(MCIHNPreTrainedModel):
    """MCIHN without its head: feature extraction, one adversarial autoencoder per modality, the three CGMM paths and
    the FFM. Returns the fused representation and the auxiliary losses."""

    def __init__(self, config: MCIHNConfig):
        super().__init__(config)
        self.text_encoder = MCIHNTextEncoder(config)
        self.audio_encoder = MCIHNAudioEncoder(config) if config.audio_config is not None else None
        self.visual_encoder = MCIHNVisualEncoder(config) if config.visual_config is not None else None
        sizes = {
            "text": config.text_feature_size,
            "audio": config.audio_feature_size,
            "visual": config.visual_feature_size,
        }
        self.autoencoders = nn.ModuleDict(
            {m: MCIHNAdversarialAutoencoder(config, sizes[m]) for m in MCIHN_MODALITIES}
        )
        self.gates = (
            nn.ModuleDict({f"{a}_{b}": MCIHNCrossModalGate(config) for a, b in MCIHN_PAIRS})
            if config.use_cgmm
            else None
        )
        self.unimodal_projections = nn.ModuleDict(
            {m: nn.Linear(config.latent_size, config.hidden_size) for m in MCIHN_MODALITIES}
        )
        self.fusion = MCIHNFusion(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module | None:
        encoder = self.text_encoder.encoder
        return encoder.get_input_embeddings() if encoder is not None else None

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.text_encoder.encoder.set_input_embeddings(value)

    def _sequences(self, inputs: dict) -> dict[str, tuple[torch.Tensor, torch.Tensor] | None]:
        """Each modality's frame sequence [B, T, D] and frame mask [B, T] (None when absent from the batch).

        Per utterance, one input per modality: `input_ids` (through the text tower) or `text_features`,
        `input_values` (speech tower) or `audio_features`, `pixel_values` (vision tower) or `visual_features`. A
        batch may mix the two forms over its utterances (each row uses the one it has); an utterance with valid
        frames in both is an error (which one is meant cannot be guessed: MMSA rows carry token ids and BERT
        states alike)."""
        config = self.config
        sizes = {"text": config.text_feature_size, "audio": config.audio_feature_size,
                 "visual": config.visual_feature_size}  # fmt: skip
        out: dict[str, tuple[torch.Tensor, torch.Tensor] | None] = dict.fromkeys(MCIHN_MODALITIES)
        for modality in MCIHN_MODALITIES:
            features = inputs[f"{modality}_features"]
            if features is None:
                continue
            if features.dim() != 3 or features.shape[-1] != sizes[modality]:
                raise ValueError(
                    f"{modality}_features: expected [batch, frames, {sizes[modality]}], got {list(features.shape)}"
                )
            out[modality] = (features, _frame_mask(inputs[f"{modality}_mask"], features))
        towers = {}
        if inputs["input_ids"] is not None:
            towers["text"] = (
                "input_ids",
                lambda: self.text_encoder(inputs["input_ids"], inputs["attention_mask"]),
            )
        if inputs["input_values"] is not None:
            if self.audio_encoder is None:
                raise ValueError(
                    "input_values were given but this model has no speech tower (config.audio_config=None); "
                    "pass audio_features instead."
                )
            towers["audio"] = (
                "input_values",
                lambda: self.audio_encoder(inputs["input_values"], inputs["audio_attention_mask"]),
            )
        if inputs["pixel_values"] is not None:
            if self.visual_encoder is None:
                raise ValueError(
                    "pixel_values were given but this model has no vision tower (config.visual_config=None); "
                    "pass visual_features instead."
                )
            towers["visual"] = (
                "pixel_values",
                lambda: self.visual_encoder(inputs["pixel_values"], inputs["frame_mask"]),
            )
        for modality, (name, run) in towers.items():
            states, mask = run()
            if out[modality] is not None:
                states, mask = _merge_rows(out[modality], (states, mask), f"{modality}_features", name)
            out[modality] = (states, mask)
        return out

    def adversarial_terms(
        self, codes: Sequence[torch.Tensor | None], masks: Sequence[torch.Tensor | None]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(encoders' adversarial loss, discriminators' loss), each averaged over the modalities with valid codes.
        `codes` / `masks`: per modality (text, audio, visual) [B, T, latent] / [B, T] or None. A trainer that steps
        the discriminators first calls this again to get the encoders' term against the updated discriminators."""
        generator, discriminator = [], []
        for modality, c, m in zip(MCIHN_MODALITIES, codes, masks):
            if c is None or not bool(m.any()):
                continue
            g, d = self.autoencoders[modality].adversarial_terms(c, m)
            generator.append(g)
            discriminator.append(d)
        if not generator:
            zero = self.fusion.norm.weight.sum() * 0.0
            return zero, zero
        return torch.stack(generator).mean(), torch.stack(discriminator).mean()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        text_features: torch.FloatTensor | None = None,
        text_mask: torch.LongTensor | None = None,
        input_values: torch.FloatTensor | None = None,
        audio_attention_mask: torch.LongTensor | None = None,
        audio_features: torch.FloatTensor | None = None,
        audio_mask: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        frame_mask: torch.LongTensor | None = None,
        visual_features: torch.FloatTensor | None = None,
        visual_mask: torch.LongTensor | None = None,
        modality_mask: torch.LongTensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MCIHNModelOutput | tuple:
        r"""
        Args (each modality optional, at least one needed; B utterances):
            input_ids, attention_mask (`torch.LongTensor` of shape `(batch_size, num_tokens)`):
                Tokenised text for the text tower, or
            text_features, text_mask (`(batch_size, num_tokens, text_feature_size)`, `(batch_size, num_tokens)`):
                precomputed text frames (e.g. BERT states) and their mask (default: all valid).
            input_values, audio_attention_mask (`(batch_size, num_samples)`):
                16 kHz waveforms for the speech tower (`config.audio_config`), or
            audio_features, audio_mask (`(batch_size, audio_frames, audio_feature_size)`, `(batch_size, audio_frames)`):
                precomputed audio frames.
            pixel_values, frame_mask (`(batch_size, num_frames, 3, height, width)`, `(batch_size, num_frames)`):
                CLIP-normalised face frames for the vision tower (`config.visual_config`), or
            visual_features, visual_mask (`(batch_size, visual_frames, visual_feature_size)`, `(batch_size, visual_frames)`):
                precomputed visual frames.
            modality_mask (`torch.LongTensor` of shape `(batch_size, 3)`):
                1 where the modality (text, audio, visual) is present for the utterance. Default: every modality whose
                input is given. Every utterance needs at least one.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        inputs = dict(
            input_ids=input_ids, attention_mask=attention_mask, text_features=text_features, text_mask=text_mask,
            input_values=input_values, audio_attention_mask=audio_attention_mask, audio_features=audio_features,
            audio_mask=audio_mask, pixel_values=pixel_values, frame_mask=frame_mask,
            visual_features=visual_features, visual_mask=visual_mask,
        )  # fmt: skip
        sequences = self._sequences(inputs)
        reference = next((s for s in sequences.values() if s is not None), None)
        if reference is None:
            raise ValueError(
                "MCIHNModel needs at least one modality: input_ids/text_features, input_values/audio_features, or "
                "pixel_values/visual_features."
            )
        batch, device = reference[0].shape[0], reference[0].device
        for modality, seq in sequences.items():
            if seq is not None and seq[0].shape[0] != batch:
                raise ValueError(f"{modality} input has batch size {seq[0].shape[0]}, expected {batch}")
        # a modality is present for an utterance when it is given, not masked, and has at least one valid frame
        # (a zero-frame modality must not enter the fusion as a bias-only token)
        has_frames = torch.stack(
            [
                sequences[m][1].bool().any(1) if sequences[m] is not None else torch.zeros(batch, dtype=torch.bool,
                                                                                          device=device)
                for m in MCIHN_MODALITIES
            ],
            1,
        )  # fmt: skip
        if modality_mask is None:
            modality_mask = has_frames
        elif tuple(modality_mask.shape) != (batch, 3):
            raise ValueError(f"modality_mask: expected shape ({batch}, 3), got {tuple(modality_mask.shape)}")
        modality_mask = modality_mask.bool() & has_frames
        if not bool(modality_mask.any(1).all()):
            row = int((~modality_mask.any(1)).nonzero()[0, 0])
            raise ValueError(
                f"modality_mask: utterance {row} of the batch has no modality present (or only ones without frames)"
            )

        codes: list[torch.Tensor | None] = []
        masks: list[torch.Tensor | None] = []
        reconstruction = []
        for i, modality in enumerate(MCIHN_MODALITIES):
            if sequences[modality] is None:
                codes.append(None)
                masks.append(None)
                continue
            features, frames = sequences[modality]
            frames = frames.bool() & modality_mask[:, i : i + 1]
            c, rec = self.autoencoders[modality](features, frames)
            codes.append(c)
            masks.append(frames)
            if bool(frames.any()):
                reconstruction.append(rec)

        hidden = self.config.hidden_size
        dtype = self.fusion.norm.weight.dtype
        zeros = torch.zeros(batch, hidden, device=device, dtype=dtype)
        tokens, token_mask, mmd = [], [], []
        for a, b in MCIHN_PAIRS:
            ia, ib = MCIHN_MODALITIES.index(a), MCIHN_MODALITIES.index(b)
            both = modality_mask[:, ia] & modality_mask[:, ib]
            if codes[ia] is None or codes[ib] is None or not bool(both.any()):
                tokens.append(zeros)
                token_mask.append(torch.zeros(batch, dtype=torch.bool, device=device))
                continue
            # the MMD term aligns the pair's pooled codes whether or not its gate runs (use_cgmm=False keeps it, so
            # that "without CGMM" and "without MMD" are separate ablations; mmd_weight=0 turns it off)
            if int(both.sum()) >= 2:
                pooled_a, pooled_b = masked_mean(codes[ia], masks[ia]), masked_mean(codes[ib], masks[ib])
                mmd.append(mmd_rbf(pooled_a[both], pooled_b[both], self.config.mmd_kernel_scales))
            if self.gates is None:
                tokens.append(zeros)
                token_mask.append(torch.zeros(batch, dtype=torch.bool, device=device))
                continue
            tokens.append(self.gates[f"{a}_{b}"](codes[ia], masks[ia], codes[ib], masks[ib]))
            token_mask.append(both)
        for i, modality in enumerate(MCIHN_MODALITIES):
            if codes[i] is None:
                tokens.append(zeros)
                token_mask.append(torch.zeros(batch, dtype=torch.bool, device=device))
                continue
            tokens.append(self.unimodal_projections[modality](masked_mean(codes[i], masks[i])))
            token_mask.append(modality_mask[:, i])
        token_mask = torch.stack(token_mask, 1)
        tokens = torch.where(token_mask.unsqueeze(-1), torch.stack(tokens, 1), 0.0)
        states, pooled = self.fusion(tokens, token_mask)

        zero = pooled.sum() * 0.0
        adversarial, discriminator = self.adversarial_terms(codes, masks)
        output = MCIHNModelOutput(
            reconstruction_loss=torch.stack(reconstruction).mean() if reconstruction else zero,
            adversarial_loss=adversarial,
            discriminator_loss=discriminator,
            mmd_loss=torch.stack(mmd).mean() if mmd else zero,
            last_hidden_state=states,
            pooled_output=pooled,
            token_mask=token_mask,
            text_codes=codes[0],
            audio_codes=codes[1],
            visual_codes=codes[2],
            text_code_mask=masks[0],
            audio_code_mask=masks[1],
            visual_code_mask=masks[2],
            modality_mask=modality_mask,
        )
        return output if return_dict else output.to_tuple()


def _merge_rows(
    first: tuple[torch.Tensor, torch.Tensor],
    second: tuple[torch.Tensor, torch.Tensor],
    name_a: str,
    name_b: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One modality given in two forms over the rows of a batch: each row keeps the form with valid frames."""
    (a, mask_a), (b, mask_b) = first, second
    rows_a, rows_b = mask_a.bool().any(1), mask_b.bool().any(1)
    if bool((rows_a & rows_b).any()):
        row = int((rows_a & rows_b).nonzero()[0, 0])
        raise ValueError(
            f"{name_b} and {name_a} were both given for utterance {row} of the batch: pass one input per modality "
            f"({name_b} for the tower, {name_a} for precomputed frames)"
        )
    length = max(a.shape[1], b.shape[1])
    states = a.new_zeros(a.shape[0], length, a.shape[-1], dtype=torch.promote_types(a.dtype, b.dtype))
    mask = torch.zeros(a.shape[0], length, dtype=torch.bool, device=a.device)
    states[:, : a.shape[1]] = torch.where(rows_a[:, None, None], a.to(states.dtype), 0.0)
    mask[:, : a.shape[1]] = mask_a.bool() & rows_a[:, None]
    states[:, : b.shape[1]] += torch.where(rows_b[:, None, None], b.to(states.dtype), 0.0)
    mask[:, : b.shape[1]] |= mask_b.bool() & rows_b[:, None]
    return states, mask


def _frame_mask(mask: torch.Tensor | None, features: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones(features.shape[:2], dtype=torch.bool, device=features.device)
    return mask.bool()


class MCIHNForMultimodalSentiment(MCIHNPreTrainedModel):
    """MCIHN with its prediction head: a sentiment score per utterance (`num_labels=1`, regression) or class
    logits (`num_labels > 1`)."""

    def __init__(self, config: MCIHNConfig):
        super().__init__(config)
        self.mcihn = MCIHNModel(config)
        self.head = nn.Sequential(
            nn.Dropout(config.hidden_dropout_prob),
            nn.Linear(config.hidden_size, config.classifier_hidden_size),
            nn.GELU(),
            nn.Dropout(config.hidden_dropout_prob),
            nn.Linear(config.classifier_hidden_size, config.num_labels),
        )
        self.post_init()

    # Extra steps of `save_pretrained`: callables `(model, save_directory)` run before the weights and config are
    # written. The `mcn_cl` package registers one that adds the `multimodal-sentiment-analysis` pipeline's code and
    # `custom_pipelines` to the folder, so that any saved folder (`save_pretrained`, `Trainer.save_model`) serves
    # `pipeline(..., trust_remote_code=True)` in a fresh interpreter; loaded as Hub code, the list is empty.
    save_hooks: list = []

    def save_pretrained(self, save_directory, *args, **kwargs):
        for hook in type(self).save_hooks:
            hook(self, save_directory)
        return super().save_pretrained(save_directory, *args, **kwargs)

    def get_input_embeddings(self) -> nn.Module | None:
        return self.mcihn.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.mcihn.set_input_embeddings(value)

    def adversarial_terms(self, codes, masks) -> tuple[torch.Tensor, torch.Tensor]:
        """See [`MCIHNModel.adversarial_terms`]."""
        return self.mcihn.adversarial_terms(codes, masks)

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """The discriminators' weights (their own optimiser in [`MCIHNTrainer`])."""
        return [p for ae in self.mcihn.autoencoders.values() for p in ae.discriminator.parameters()]

    @classmethod
    def from_pretrained_encoders(
        cls, text_encoder: str | None = None, **config_kwargs
    ) -> MCIHNForMultimodalSentiment:
        """A fresh MCIHN whose text tower starts from the pretrained `text_encoder` (Hub id or local folder of any
        `AutoModel` text encoder, e.g. bert-base-uncased or all-MiniLM-L6-v2); `config_kwargs`: [`MCIHNConfig`]
        fields. The speech / vision towers, when configured, start from their `*_config` (load their weights with
        `model.mcihn.audio_encoder.encoder.load_state_dict(...)`)."""
        pretrained = None
        if text_encoder is not None and config_kwargs.get("use_text_encoder", True):
            pretrained = AutoModel.from_pretrained(text_encoder)
            config_kwargs["text_config"] = pretrained.config.to_dict()
        model = cls(MCIHNConfig(**config_kwargs))
        if pretrained is not None:
            model.mcihn.text_encoder.encoder.load_state_dict(pretrained.state_dict())
            model.config.text_config._name_or_path = text_encoder
        return model

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        text_features: torch.FloatTensor | None = None,
        text_mask: torch.LongTensor | None = None,
        input_values: torch.FloatTensor | None = None,
        audio_attention_mask: torch.LongTensor | None = None,
        audio_features: torch.FloatTensor | None = None,
        audio_mask: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        frame_mask: torch.LongTensor | None = None,
        visual_features: torch.FloatTensor | None = None,
        visual_mask: torch.LongTensor | None = None,
        modality_mask: torch.LongTensor | None = None,
        labels: torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MCIHNSentimentOutput | tuple:
        r"""
        Inputs as in [`MCIHNModel.forward`], plus:

        labels (`torch.FloatTensor` of shape `(batch_size,)` for regression, `torch.LongTensor` for classification):
            Sentiment scores, or class ids (-100 = unlabelled). When given, `loss` is the task loss.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.mcihn(
            input_ids=input_ids, attention_mask=attention_mask, text_features=text_features, text_mask=text_mask,
            input_values=input_values, audio_attention_mask=audio_attention_mask, audio_features=audio_features,
            audio_mask=audio_mask, pixel_values=pixel_values, frame_mask=frame_mask,
            visual_features=visual_features, visual_mask=visual_mask, modality_mask=modality_mask, return_dict=True,
        )  # fmt: skip
        logits = self.head(outputs.pooled_output)
        loss = None
        if labels is not None:
            if self.config.is_regression:
                predictions, targets = logits.float().view(-1), labels.float().view(-1)
                loss_fn = F.l1_loss if self.config.regression_loss == "l1" else F.mse_loss
                loss = loss_fn(predictions, targets)
            else:
                flat = labels.view(-1).long()
                if (flat != -100).any():
                    loss = F.cross_entropy(logits.float(), flat, ignore_index=-100)
                else:
                    loss = logits.float().sum() * 0.0
        output = MCIHNSentimentOutput(
            loss=loss,
            logits=logits,
            reconstruction_loss=outputs.reconstruction_loss,
            adversarial_loss=outputs.adversarial_loss,
            discriminator_loss=outputs.discriminator_loss,
            mmd_loss=outputs.mmd_loss,
            pooled_output=outputs.pooled_output,
            text_codes=outputs.text_codes,
            audio_codes=outputs.audio_codes,
            visual_codes=outputs.visual_codes,
            text_code_mask=outputs.text_code_mask,
            audio_code_mask=outputs.audio_code_mask,
            visual_code_mask=outputs.visual_code_mask,
            modality_mask=outputs.modality_mask,
        )
        return output if return_dict else output.to_tuple()


# Hub custom code: `save_pretrained` writes `auto_map` and copies this folder's files next to the weights.
MCIHNConfig.register_for_auto_class()
MCIHNForMultimodalSentiment.register_for_auto_class("AutoModel")

__all__ = [
    "MCIHNPreTrainedModel",
    "MCIHNModel",
    "MCIHNForMultimodalSentiment",
    "MCIHNModelOutput",
    "MCIHNSentimentOutput",
    "MCIHNAdversarialAutoencoder",
    "MCIHNCrossModalGate",
    "MCIHNFusion",
    "masked_mean",
    "mmd_rbf",
]

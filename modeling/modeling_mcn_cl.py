# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""PyTorch MCN-CL: Multimodal Cross-Attention Network and Contrastive Learning for emotion recognition in
conversation (Li, Wu, Li). Equation numbers in comments refer to the paper.

This file travels to the Hub next to the weights (`save_pretrained` copies it flat into the checkpoint folder so
that `AutoModel.from_pretrained(folder, trust_remote_code=True)` works without the `mcn_cl` package): it imports
only its sibling `configuration_mcn_cl` (relative import, same folder) and public libraries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils import ModelOutput, logging

from .configuration_mcn_cl import MODALITIES, MCNCLConfig
from .grouped_dialogue_rnn import grouped_dialogue_rnn

logger = logging.get_logger(__name__)

_TEXT, _AUDIO, _VISUAL = range(3)


@dataclass
class MCNCLModelOutput(ModelOutput):
    r"""
    Output of [`MCNCLModel`].

    Args:
        text_hidden_state / audio_hidden_state / visual_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_utterances, hidden_size)`):
            F^{t(T)}, F^{a(T)}, F^{v(T)}: each modality's representation after the T MCN layers. `None` when the
            modality is absent from the batch.
        modality_mask (`torch.BoolTensor` of shape `(batch_size, num_utterances, 3)`):
            The effective mask: the utterance is real and the modality (text, audio, visual) is present for it.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned when `output_hidden_states=True`):
            One tensor of shape `(batch_size, num_utterances, 3, hidden_size)` for the MCN input (the context
            features C^t, C^a, C^v) and one per MCN layer (zeros for absent modalities).
        attentions (`tuple(torch.FloatTensor)`, *optional*, returned when `output_attentions=True`):
            One tensor per MCN layer of shape `(batch_size, 6, num_heads, num_utterances, num_utterances)`: the six
            cross-attention steps in `config.query_order` order (text's two keys, audio's two, visual's two);
            zeros where a step did not run.
    """

    text_hidden_state: torch.FloatTensor | None = None
    audio_hidden_state: torch.FloatTensor | None = None
    visual_hidden_state: torch.FloatTensor | None = None
    modality_mask: torch.BoolTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class MCNCLOutput(ModelOutput):
    r"""
    Output of [`MCNCLForEmotionRecognition`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` are given):
            Cross-entropy over the labelled utterances (class-weighted when `config.class_weights` is set). The
            contrastive terms (eqs. 24-27) are added by the trainer, which needs the whole (possibly gathered)
            batch.
        logits (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_labels)`):
            Classification scores (before softmax, eq. 31).
        text_embeds / audio_embeds / visual_embeds (`torch.FloatTensor` of shape `(batch_size, num_utterances, projection_size)`):
            z'_text, z'_audio, z'_visual: L2-normalised projections for the contrastive terms (eqs. 15-23).
            `None` when the modality is absent from the batch.
        modality_mask (`torch.BoolTensor` of shape `(batch_size, num_utterances, 3)`):
            The effective mask (utterance real and modality present), to select the valid rows of each embedding.
        hidden_states, attentions: see [`MCNCLModelOutput`].
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    audio_embeds: torch.FloatTensor | None = None
    visual_embeds: torch.FloatTensor | None = None
    modality_mask: torch.BoolTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


def _masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of `x` over `dim` where `mask` (broadcastable, same rank) is true; 0 where nothing is valid."""
    x = torch.where(mask.bool(), x, 0.0)
    return x.sum(dim) / mask.to(x.dtype).sum(dim).clamp(min=1.0)


def _zero_absent(x: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Zero the rows of `x` [B, N, ...] where `present` [B, N] is false (with `where`, so NaN/inf there never leak)."""
    return torch.where(present.view(*present.shape, *([1] * (x.dim() - 2))), x, 0.0)


class MCNCLTextEncoder(nn.Module):
    """Text tower: `AutoModel.from_config(config.text_config)` (RoBERTa-base by default), pooled to one vector per
    utterance, then Linear D_t -> hidden_size. With `use_text_encoder=False` only the projection of precomputed
    `text_features` exists."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.pooling = config.text_pooling
        self.encoder = AutoModel.from_config(config.text_config) if config.use_text_encoder else None
        if self.encoder is not None and config.freeze_text_encoder:
            self.encoder.requires_grad_(False)
        self.projection = nn.Linear(config.text_feature_size, config.hidden_size)

    def encode_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[M, T] token ids -> [M, D_t] utterance vectors."""
        if self.encoder is None:
            raise ValueError(
                "input_ids were given but this model has no text encoder (config.use_text_encoder=False); "
                "pass text_features instead."
            )
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "first":
            return states[:, 0]
        return _masked_mean(states, attention_mask.unsqueeze(-1), dim=1)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        text_features: torch.Tensor | None,
        present: torch.Tensor,
    ) -> torch.Tensor:
        """Returns [B, N, hidden_size]; rows where `present` [B, N] is false are 0."""
        if text_features is None:
            batch, num_utt, num_tok = input_ids.shape
            if attention_mask is None:
                attention_mask = torch.ones_like(input_ids)
            # Only the utterances that exist and have text go through the (expensive) encoder.
            rows = present.reshape(-1)
            ids = input_ids.reshape(-1, num_tok)[rows]
            mask = attention_mask.reshape(-1, num_tok)[rows]
            pooled = self.encode_tokens(ids, mask)
            text_features = pooled.new_zeros(batch * num_utt, pooled.shape[-1])
            text_features = text_features.index_put((rows.nonzero().squeeze(-1),), pooled)
            text_features = text_features.view(batch, num_utt, -1)
        text_features = _zero_absent(text_features.to(self.projection.weight.dtype), present)
        return _zero_absent(self.projection(text_features), present)


class MCNCLAudioEncoder(nn.Module):
    """Audio: LayerNorm over the openSMILE functionals (their scales differ by orders of magnitude), then
    Linear D_a -> hidden_size."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.norm = nn.LayerNorm(config.audio_feature_size, eps=config.layer_norm_eps)
        self.projection = nn.Linear(config.audio_feature_size, config.hidden_size)

    def forward(self, audio_features: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        audio_features = _zero_absent(audio_features.to(self.projection.weight.dtype), present)
        return _zero_absent(self.projection(self.norm(audio_features)), present)


class MCNCLPyramidSqueezeAttention(nn.Module):
    """One-dimensional Pyramid Squeeze Attention over the L frames of an utterance (Sec. 2.2, Fig. 2).

    The C channels are split into S groups of C/S channels; group s goes through a temporal convolution with
    kernel size `config.psa_kernel_sizes[s]` (eq. 1: 3, 5, 7, 9); the outputs are concatenated (eq. 2), squeezed
    by global average pooling over the valid frames (eq. 3), turned into channel weights W by FC C->C/r, ReLU,
    FC C/r->C, sigmoid (eq. 4), and applied as C^v = Y * W (eq. 5).
    """

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        channels = config.hidden_size
        self.num_branches = len(config.psa_kernel_sizes)
        self.split_size = channels // self.num_branches
        self.branches = nn.ModuleList(
            nn.Conv1d(self.split_size, self.split_size, kernel_size=k, padding=k // 2)
            for k in config.psa_kernel_sizes
        )
        self.se_fc1 = nn.Linear(channels, channels // config.psa_se_reduction)
        self.se_fc2 = nn.Linear(channels // config.psa_se_reduction, channels)

    def squeeze_excite(self, y: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """[M, L, C] fused features -> [M, C] channel weights in (0, 1) (eqs. 3-4)."""
        z = _masked_mean(y, frame_mask.unsqueeze(-1), dim=1)
        return torch.sigmoid(self.se_fc2(F.relu(self.se_fc1(z))))

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """x: [M, L, C] frame features, frame_mask: [M, L] -> C^v: [M, L, C] (padded frames 0)."""
        keep = frame_mask.unsqueeze(-1).bool()
        x = torch.where(keep, x, 0.0).transpose(
            1, 2
        )  # [M, C, L]; padded frames are zeros for the convolutions
        groups = x.split(self.split_size, dim=1)
        y = torch.cat([conv(g) for conv, g in zip(self.branches, groups)], dim=1).transpose(1, 2)  # eq. 2
        y = torch.where(keep, y, 0.0)
        weights = self.squeeze_excite(y, frame_mask)
        return y * weights.unsqueeze(1)  # eq. 5


class MCNCLVisualEncoder(nn.Module):
    """Visual: torchvision ResNet-101 per frame (1000-d; frozen by default, run under `no_grad` then), Linear
    1000 -> hidden_size, PSA over the frames, mean over the valid frames -> one vector per utterance."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.backbone = None
        self.freeze_backbone = config.freeze_visual_backbone
        if config.visual_backbone == "resnet101":
            from torchvision.models import resnet101

            self.backbone = resnet101(weights=None)
            if self.freeze_backbone:
                self.backbone.requires_grad_(False)
        self.projection = nn.Linear(config.visual_feature_size, config.hidden_size)
        self.psa = MCNCLPyramidSqueezeAttention(config) if config.use_psa else None

    def encode_frames(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """[F, 3, H, W] ImageNet-normalised frames -> [F, 1000] backbone features."""
        if self.backbone is None:
            raise ValueError(
                "pixel_values were given but this model has no visual backbone (config.visual_backbone=None); "
                "pass visual_features instead."
            )
        pixel_values = pixel_values.to(self.projection.weight.dtype)
        if self.freeze_backbone:
            self.backbone.eval()  # frozen: BatchNorm keeps its ImageNet statistics
            with torch.no_grad():
                return self.backbone(pixel_values)
        return self.backbone(pixel_values)

    def forward(
        self,
        pixel_values: torch.Tensor | None,
        visual_features: torch.Tensor | None,
        frame_mask: torch.Tensor | None,
        present: torch.Tensor,
    ) -> torch.Tensor:
        """Returns [B, N, hidden_size]; rows where `present` [B, N] is false are 0."""
        batch, num_utt = present.shape
        if visual_features is None:
            num_frames = pixel_values.shape[2]
            rows = present.reshape(-1)
            frames = pixel_values.reshape(batch * num_utt, num_frames, *pixel_values.shape[-3:])[rows]
            encoded = self.encode_frames(frames.flatten(0, 1)).view(frames.shape[0], num_frames, -1)
            visual_features = encoded.new_zeros(batch * num_utt, num_frames, encoded.shape[-1])
            visual_features = visual_features.index_put((rows.nonzero().squeeze(-1),), encoded)
            visual_features = visual_features.view(batch, num_utt, num_frames, -1)
        if visual_features.dim() == 3:  # one vector per utterance (feature files): a sequence of one frame
            visual_features = visual_features.unsqueeze(2)
            frame_mask = None
        num_frames = visual_features.shape[2]
        if frame_mask is None:
            frame_mask = torch.ones(batch, num_utt, num_frames, dtype=torch.bool, device=present.device)
        frame_mask = frame_mask.bool() & present.unsqueeze(-1)
        visual_features = torch.where(
            frame_mask.unsqueeze(-1), visual_features.to(self.projection.weight.dtype), 0.0
        )
        x = self.projection(visual_features).flatten(0, 1)  # [B*N, L, H]
        flat_mask = frame_mask.flatten(0, 1)
        if self.psa is not None:
            x = self.psa(x, flat_mask)
        pooled = _masked_mean(x, flat_mask.unsqueeze(-1), dim=1).view(batch, num_utt, -1)
        return _zero_absent(pooled, present)


class MCNCLDialogueRNN(nn.Module):
    """Speaker-aware context encoder after DialogueRNN (Majumder et al., 2019), run in both directions.

    Per step t (utterance u_t of speaker s): global state g_t = GRU_G([u_t; q_s], g_{t-1}); context c_t = attention of
    u_t over g_1..g_{t-1}; party state q_s = GRU_P([u_t; c_t], q_s); emotion state e_t = GRU_E(q_s, e_{t-1}). The
    recurrence over utterances is sequential by nature; every step is batched over dialogues, and padded steps
    leave all states unchanged. The forward and backward emotion states are projected back to hidden_size and
    added to the input (residual + LayerNorm).
    """

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        hidden = config.hidden_size
        self.max_speakers = config.max_speakers
        self.directions = nn.ModuleList(_DialogueRNNCell(hidden, config.max_speakers) for _ in range(2))
        self.output = nn.Linear(2 * hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def recurrence_inputs(
        self, x: torch.Tensor, speaker_ids: torch.Tensor, step_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The inputs of the two directions' recurrences, stacked: x [B, N, H], speaker_ids and step_mask [B, N]
        -> [2, B, N, H], [2, B, N], [2, B, N]. The backward direction runs over the flipped sequence; masked steps
        change no state wherever they are, so it visits exactly the unmasked steps in reverse order."""
        return (
            torch.stack([x, x.flip(1)]),
            torch.stack([speaker_ids, speaker_ids.flip(1)]),
            torch.stack([step_mask, step_mask.flip(1)]),
        )

    def combine(self, x: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """x [B, N, H] and the emotion states [2, B, N, H] of `recurrence_inputs`' two recurrences -> [B, N, H]."""
        both = torch.cat([states[0], states[1].flip(1)], dim=-1)
        return self.norm(x + self.output(self.dropout(both)))

    def forward(self, x: torch.Tensor, speaker_ids: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
        """x [B, N, H], speaker_ids [B, N], step_mask [B, N] (false: the step changes no state) -> [B, N, H]."""
        return run_dialogue_rnns([self], [x], speaker_ids, [step_mask])[0]


def run_dialogue_rnns(
    rnns: list[MCNCLDialogueRNN],
    inputs: list[torch.Tensor],
    speaker_ids: torch.Tensor,
    step_masks: list[torch.Tensor],
) -> list[torch.Tensor]:
    """Several [`MCNCLDialogueRNN`]s (e.g. one per modality) with all their recurrences advanced together by
    `grouped_dialogue_rnn`: inputs [B, N, H] and step_masks [B, N] per rnn, speaker_ids [B, N] -> [B, N, H] per rnn.
    The same as calling each rnn on its own."""
    parts = [rnn.recurrence_inputs(x, speaker_ids, m) for rnn, x, m in zip(rnns, inputs, step_masks)]
    x, speakers, masks = (torch.cat(tensors) for tensors in zip(*parts))
    states = grouped_dialogue_rnn(x, speakers, masks, [cell for rnn in rnns for cell in rnn.directions])
    states = states.split([len(rnn.directions) for rnn in rnns])
    return [rnn.combine(x, s) for rnn, x, s in zip(rnns, inputs, states)]


class _DialogueRNNCell(nn.Module):
    """The parameters of one direction's recurrence (run by `grouped_dialogue_rnn`, which documents the step)."""

    def __init__(self, hidden: int, max_speakers: int):
        super().__init__()
        # party states for every possible speaker index (the model checks speaker_ids < max_speakers): sizing
        # them from `speaker_ids.max()` would cost a device-to-host sync per call
        self.max_speakers = max_speakers
        self.global_cell = nn.GRUCell(2 * hidden, hidden)
        self.party_cell = nn.GRUCell(2 * hidden, hidden)
        self.emotion_cell = nn.GRUCell(hidden, hidden)
        self.attention = nn.Linear(hidden, hidden, bias=False)

    def forward(self, x: torch.Tensor, speaker_ids: torch.Tensor, step_mask: torch.Tensor) -> torch.Tensor:
        """x [B, N, H], speaker_ids / step_mask [B, N] -> emotion states [B, N, H]."""
        return grouped_dialogue_rnn(x.unsqueeze(0), speaker_ids.unsqueeze(0), step_mask.unsqueeze(0), [self])[
            0
        ]


class MCNCLContextEncoder(nn.Module):
    """Dialogue context over the N utterances of one modality: `"dialoguernn"` (speaker-aware), `"bigru"` or
    `"transformer"` (both with speaker embeddings), or `"none"`. Padded utterances never influence valid ones."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.kind = config.context_encoder
        hidden = config.hidden_size
        if self.kind == "dialoguernn":
            self.rnn = MCNCLDialogueRNN(config)
        elif self.kind in ("bigru", "transformer"):
            self.speaker_embeddings = nn.Embedding(config.max_speakers, hidden)
            if self.kind == "bigru":
                self.gru = nn.GRU(hidden, hidden // 2, batch_first=True, bidirectional=True)
                self.norm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
            else:
                layer = nn.TransformerEncoderLayer(
                    hidden,
                    config.num_attention_heads,
                    config.intermediate_size,
                    config.hidden_dropout_prob,
                    batch_first=True,
                    norm_first=False,
                )
                self.transformer = nn.TransformerEncoder(
                    layer, config.num_context_layers, enable_nested_tensor=False
                )

    def forward(
        self, x: torch.Tensor, speaker_ids: torch.Tensor, utterance_mask: torch.Tensor
    ) -> torch.Tensor:
        if self.kind == "none":
            return x
        if self.kind == "dialoguernn":
            out = self.rnn(x, speaker_ids, utterance_mask)
        elif self.kind == "bigru":
            lengths = utterance_mask.sum(1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(
                x + self.speaker_embeddings(speaker_ids), lengths, batch_first=True, enforce_sorted=False
            )
            out, _ = self.gru(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            out = self.norm(x + out)
        else:
            out = self.transformer(
                x + self.speaker_embeddings(speaker_ids), src_key_padding_mask=~utterance_mask
            )
        return _zero_absent(out, utterance_mask)

    @staticmethod
    def encode_all(
        encoders: list[MCNCLContextEncoder],
        inputs: list[torch.Tensor],
        speaker_ids: torch.Tensor,
        masks: list[torch.Tensor],
    ) -> list[torch.Tensor]:
        """`[encoder(x, speaker_ids, mask) for ...]`, with the DialogueRNN encoders' recurrences run together as one
        grouped loop over the utterances (`run_dialogue_rnns`): inputs [B, N, H], masks [B, N] -> [B, N, H] each."""
        grouped = [i for i, encoder in enumerate(encoders) if encoder.kind == "dialoguernn"]
        outputs = {}
        if grouped:
            states = run_dialogue_rnns(
                [encoders[i].rnn for i in grouped],
                [inputs[i] for i in grouped],
                speaker_ids,
                [masks[i] for i in grouped],
            )
            outputs = {i: _zero_absent(out, masks[i]) for i, out in zip(grouped, states)}
        return [
            outputs[i] if i in outputs else encoder(x, speaker_ids, mask)
            for i, (encoder, x, mask) in enumerate(zip(encoders, inputs, masks))
        ]


class MCNCLCrossAttention(nn.Module):
    """Multi-head cross-attention (eqs. 6-10): queries from one modality, keys/values from another, over the
    utterances of the dialogue. Keys that are padding or lack the modality are masked; a query with no valid key
    gets a zero update (its residual passes unchanged) instead of NaNs."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.output = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def forward(
        self, hidden: torch.Tensor, key_value: torch.Tensor, key_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch, num_utt, _ = hidden.shape

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(batch, -1, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.query(hidden)), heads(self.key(key_value)), heads(self.value(key_value))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # eq. 9
        scores = scores.masked_fill(~key_mask[:, None, None, :], torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, dim=-1) * key_mask.any(-1)[:, None, None, None].to(scores.dtype)
        context = (self.dropout(probs) @ v).transpose(1, 2).reshape(batch, num_utt, -1)
        return self.output(context), probs  # eq. 10

    @staticmethod
    def grouped_forward(
        modules: list[MCNCLCrossAttention],
        hidden: torch.Tensor,
        key_value: torch.Tensor,
        key_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`modules[g](hidden[g], key_value[g], key_mask[g])` for every g at once: hidden, key_value [G, B, N, H],
        key_mask [G, B, N] -> updates [G, B, N, H], probs [G, B, heads, N, N]."""
        first = modules[0]
        groups, batch, num_utt, _ = hidden.shape

        def heads(x: torch.Tensor) -> torch.Tensor:  # [G, B, N, H] -> [G, B, heads, N, head_dim]
            return x.view(groups, batch, -1, first.num_heads, first.head_dim).transpose(2, 3)

        q = heads(_grouped_linear(hidden, [m.query for m in modules]))
        k = heads(_grouped_linear(key_value, [m.key for m in modules]))
        v = heads(_grouped_linear(key_value, [m.value for m in modules]))
        scores = q @ k.transpose(-1, -2) / math.sqrt(first.head_dim)  # eq. 9
        scores = scores.masked_fill(~key_mask[:, :, None, None, :], torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, dim=-1) * key_mask.any(-1)[:, :, None, None, None].to(scores.dtype)
        context = (first.dropout(probs) @ v).transpose(2, 3).reshape(groups, batch, num_utt, -1)
        return _grouped_linear(context, [m.output for m in modules]), probs  # eq. 10


class MCNCLCrossModalLayer(GradientCheckpointingLayer):
    """One MCN layer (Sec. 2.3): every modality is a query (triple query). For query modality q with keys (k1, k2)
    from `config.query_order`: F = Add&Norm(F_q + MHA(F_q, K_k1)) (eqs. 6-11), F = Add&Norm(F + MHA(F, K_k2))
    (eqs. 12-14), F = Add&Norm(F + FFN(F)). Keys/values are the context features C^k (eqs. 7, 13) or, with
    `kv_source="previous_layer"`, the key modality's output of the previous layer."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.query_order = {q: tuple(keys) for q, keys in config.query_order.items()}
        self.attention = nn.ModuleDict(
            {f"{q}_{k}": MCNCLCrossAttention(config) for q in MODALITIES for k in self.query_order[q]}
        )
        self.attention_norm = nn.ModuleDict(
            {name: nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) for name in self.attention}
        )
        self.ffn = nn.ModuleDict(
            {
                m: nn.Sequential(
                    nn.Linear(config.hidden_size, config.intermediate_size),
                    nn.GELU(),
                    nn.Dropout(config.hidden_dropout_prob),
                    nn.Linear(config.intermediate_size, config.hidden_size),
                )
                for m in MODALITIES
            }
        )
        self.ffn_norm = nn.ModuleDict(
            {m: nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) for m in MODALITIES}
        )
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, key_masks: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """queries, keys: [B, N, 3, H] (previous layer's outputs, and the key/value source); key_masks: [B, N, 3]
        bool (which modalities are present in the batch is given by `key_masks.any()` per modality, decided by
        the caller zeroing absent ones). Returns the new [B, N, 3, H] and attention probs [B, 6, heads, N, N].

        The three query modalities are independent of each other, so each stage (first key, second key, FFN) runs
        for all of them at once, with their weights stacked (`_grouped_linear`)."""
        batch, num_utt, _, hidden = queries.shape
        # [3]: modality present anywhere in the batch; one host copy instead of a device sync per branch below
        present = key_masks.flatten(0, 1).any(0).tolist()
        states = queries.permute(2, 0, 1, 3)  # [3, B, N, H]
        keys, key_masks = keys.permute(2, 0, 1, 3), key_masks.permute(2, 0, 1)
        num_heads = next(iter(self.attention.values())).num_heads
        probs_all = [queries.new_zeros(batch, num_heads, num_utt, num_utt)] * 6  # (query, key) in query_order
        for stage in range(2):
            key_index = [MODALITIES.index(self.query_order[q][stage]) for q in MODALITIES]
            active = [i for i in range(3) if present[i] and present[key_index[i]]]
            if not active:
                continue
            names = [f"{MODALITIES[i]}_{MODALITIES[key_index[i]]}" for i in active]
            picked = [key_index[i] for i in active]
            state = _select_groups(states, active)
            update, probs = MCNCLCrossAttention.grouped_forward(
                [self.attention[n] for n in names], state, keys[picked], key_masks[picked]
            )
            new = _grouped_layer_norm(state + self.dropout(update), [self.attention_norm[n] for n in names])
            states = _replace_groups(states, active, new)  # Add & Norm (eq. 11)
            for g, i in enumerate(active):
                probs_all[2 * i + stage] = probs[g]
        active = [i for i in range(3) if present[i]]
        if active:
            state = _select_groups(states, active)
            ffns = [self.ffn[MODALITIES[i]] for i in active]
            hidden_ffn = F.gelu(_grouped_linear(state, [f[0] for f in ffns]))
            update = _grouped_linear(ffns[0][2](hidden_ffn), [f[3] for f in ffns])
            norms = [self.ffn_norm[MODALITIES[i]] for i in active]
            states = _replace_groups(states, active, _grouped_layer_norm(state + self.dropout(update), norms))
        return states.permute(1, 2, 0, 3), torch.stack(probs_all, dim=1)


def _select_groups(x: torch.Tensor, groups: list[int]) -> torch.Tensor:
    """x[groups] along dim 0 (a no-op when all groups are taken)."""
    return x if groups == list(range(x.shape[0])) else x[groups]


def _replace_groups(x: torch.Tensor, groups: list[int], values: torch.Tensor) -> torch.Tensor:
    """x with x[groups] = values along dim 0, out of place."""
    if groups == list(range(x.shape[0])):
        return values
    return x.index_copy(0, torch.tensor(groups, device=x.device), values)


def _grouped_linear(x: torch.Tensor, linears: list[nn.Linear]) -> torch.Tensor:
    """Group g of x [G, ..., in] through linears[g] -> [G, ..., out], as one batched matmul."""
    weight = torch.stack([m.weight for m in linears])  # [G, out, in]
    bias = torch.stack([m.bias for m in linears]).unsqueeze(1)  # [G, 1, out]
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    return torch.baddbmm(bias, flat, weight.mT).view(*x.shape[:-1], -1)


def _grouped_layer_norm(x: torch.Tensor, norms: list[nn.LayerNorm]) -> torch.Tensor:
    """Group g of x [G, ..., H] through norms[g] (same eps and size for all)."""
    expand = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
    weight = torch.stack([m.weight for m in norms]).view(expand)
    bias = torch.stack([m.bias for m in norms]).view(expand)
    return torch.addcmul(bias, F.layer_norm(x, x.shape[-1:], eps=norms[0].eps), weight)


class MCNCLProjectionHead(nn.Module):
    """Contrastive projection of one modality (eqs. 15-23): fc1, ReLU, fc2, L2 normalisation."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.hidden_size)
        self.fc2 = nn.Linear(config.hidden_size, config.projection_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.fc2(F.relu(self.fc1(hidden))), dim=-1)


class MCNCLClassifier(nn.Module):
    """Emotion classifier (eqs. 28-31): [f_text; f_audio; f_visual] -> FC -> 2-layer MLP with ReLU -> Linear."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        size = config.classifier_hidden_size
        self.fc = nn.Linear(3 * config.hidden_size, size)  # eq. 29
        self.mlp = nn.Sequential(  # eq. 30
            nn.ReLU(),
            nn.Dropout(config.hidden_dropout_prob),
            nn.Linear(size, size),
            nn.ReLU(),
            nn.Dropout(config.hidden_dropout_prob),
            nn.Linear(size, size),
            nn.ReLU(),
            nn.Dropout(config.hidden_dropout_prob),
        )
        self.out_proj = nn.Linear(size, config.num_labels)  # eq. 31 (softmax applied by the loss / pipeline)

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.mlp(self.fc(fused)))


class MCNCLPreTrainedModel(PreTrainedModel):
    config: MCNCLConfig
    config_class = MCNCLConfig
    base_model_prefix = "mcn_cl"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["MCNCLCrossModalLayer", "MCNCLDialogueRNN", "MCNCLPyramidSqueezeAttention"]
    # `forward` takes `**kwargs` (unused model inputs of the collator), which a plain `Trainer` would read as
    # accepting `num_items_in_batch`; the loss is a per-batch mean, so the Trainer must scale it for gradient
    # accumulation itself.
    accepts_loss_kwargs = False

    def _init_weights(self, module: nn.Module) -> None:
        """Fusion layers: normal(0, std) with std = `config.initializer_range`, or 1/sqrt(fan_in) when it is None.
        The pretrained towers are left alone: the text encoder is a `PreTrainedModel` and initialises itself; the
        ResNet keeps torchvision's initialisation (or its ImageNet weights); PSA convolutions and the recurrent
        context encoders keep PyTorch's."""
        if isinstance(module, nn.Conv2d | nn.BatchNorm2d):  # inside the torchvision backbone and PSA
            return
        if isinstance(module, nn.Conv1d | nn.Linear):
            std = self.config.initializer_range
            if std is None:
                fan_in = module.weight[0].numel()  # Linear: in_features; Conv1d: in_channels * kernel_size
                std = fan_in**-0.5
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            std = self.config.initializer_range
            init.normal_(module.weight, mean=0.0, std=std if std is not None else 0.02)


class MCNCLModel(MCNCLPreTrainedModel):
    """The MCN-CL encoder without a head: unimodal encoders, dialogue context, T MCN layers. Returns each
    modality's fused representation F^{m(T)}."""

    def __init__(self, config: MCNCLConfig):
        super().__init__(config)
        self.text_encoder = MCNCLTextEncoder(config)
        self.audio_encoder = MCNCLAudioEncoder(config)
        self.visual_encoder = MCNCLVisualEncoder(config)
        self.context_encoders = nn.ModuleDict({m: MCNCLContextEncoder(config) for m in MODALITIES})
        self.layers = nn.ModuleList(
            MCNCLCrossModalLayer(config) for _ in range(config.num_mcn_layers if config.use_mcn else 0)
        )
        self.gradient_checkpointing = False
        self.post_init()

    def get_input_embeddings(self) -> nn.Module | None:
        encoder = self.text_encoder.encoder
        return encoder.get_input_embeddings() if encoder is not None else None

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.text_encoder.encoder.set_input_embeddings(value)

    def get_visual_backbone(self) -> nn.Module | None:
        """The frame backbone (torchvision ResNet-101, ImageNet-normalised [F, 3, H, W] -> [F, 1000]), e.g. to
        precompute `visual_features` once per clip; `None` when the model takes precomputed features only."""
        return self.visual_encoder.backbone

    @staticmethod
    def _check_utterance_mask(utterance_mask: torch.Tensor) -> None:
        if utterance_mask.shape[1] > 1 and (utterance_mask[:, 1:] > utterance_mask[:, :-1]).any():
            raise ValueError(
                "utterance_mask: padding must come after the real utterances of each dialogue "
                "(found a real utterance after a padded one)."
            )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        text_features: torch.FloatTensor | None = None,
        audio_features: torch.FloatTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        visual_features: torch.FloatTensor | None = None,
        frame_mask: torch.LongTensor | None = None,
        speaker_ids: torch.LongTensor | None = None,
        utterance_mask: torch.LongTensor | None = None,
        modality_mask: torch.LongTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MCNCLModelOutput | tuple:
        r"""
        Args:
            input_ids, attention_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, num_tokens)`):
                Tokenised utterances (or give `text_features` [B, N, D_t]).
            audio_features (`torch.FloatTensor` of shape `(batch_size, num_utterances, audio_feature_size)`):
                openSMILE functionals per utterance.
            pixel_values (`torch.FloatTensor` of shape `(batch_size, num_utterances, num_frames, 3, height, width)`):
                ImageNet-normalised face frames (or give `visual_features` [B, N, L, D_v] or [B, N, D_v]).
            frame_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, num_frames)`):
                1 for real frames, 0 for padding frames.
            speaker_ids (`torch.LongTensor` of shape `(batch_size, num_utterances)`):
                Speaker index inside the dialogue (default: all 0).
            utterance_mask (`torch.LongTensor` of shape `(batch_size, num_utterances)`):
                1 for real utterances, 0 for padding (padding after the real ones). Default: all 1.
            modality_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, 3)`):
                1 where the modality (text, audio, visual) is present for the utterance. Default: present for
                every modality whose input is given.
        """
        output_attentions = (
            output_attentions if output_attentions is not None else self.config.output_attentions
        )
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict

        given = {
            "text": input_ids if text_features is None else text_features,
            "audio": audio_features,
            "visual": pixel_values if visual_features is None else visual_features,
        }
        reference = next((x for x in given.values() if x is not None), None)
        if reference is None:
            raise ValueError(
                "MCNCLModel needs at least one modality: input_ids/text_features, audio_features, or "
                "pixel_values/visual_features."
            )
        batch, num_utt = reference.shape[:2]
        device = reference.device
        for name, value in given.items():
            if value is not None and tuple(value.shape[:2]) != (batch, num_utt):
                raise ValueError(
                    f"{name} input has batch/utterance shape {tuple(value.shape[:2])}, expected {(batch, num_utt)}"
                )
        if utterance_mask is None:
            utterance_mask = torch.ones(batch, num_utt, dtype=torch.bool, device=device)
        utterance_mask = utterance_mask.bool()
        self._check_utterance_mask(utterance_mask)
        if speaker_ids is None:
            speaker_ids = torch.zeros(batch, num_utt, dtype=torch.long, device=device)
        speaker_ids = speaker_ids.long().masked_fill(~utterance_mask, 0)
        if int(speaker_ids.max()) >= self.config.max_speakers:
            raise ValueError(
                f"speaker_ids: found speaker index {int(speaker_ids.max())}, but config.max_speakers="
                f"{self.config.max_speakers}"
            )
        supplied = [given[m] is not None for m in MODALITIES]  # Python bools: branching on them needs no sync
        supplied_mask = torch.tensor(supplied, device=device)
        if modality_mask is None:
            modality_mask = supplied_mask.expand(batch, num_utt, 3)
        modality_mask = modality_mask.bool() & supplied_mask & utterance_mask.unsqueeze(-1)

        hidden_size = self.config.hidden_size
        dtype = self.dtype
        unimodal = torch.zeros(batch, num_utt, 3, hidden_size, dtype=dtype, device=device)
        if given["text"] is not None:
            unimodal[:, :, _TEXT] = self.text_encoder(
                input_ids, attention_mask, text_features, modality_mask[..., _TEXT]
            )
        if audio_features is not None:
            unimodal[:, :, _AUDIO] = self.audio_encoder(audio_features, modality_mask[..., _AUDIO])
        if given["visual"] is not None:
            unimodal[:, :, _VISUAL] = self.visual_encoder(
                pixel_values, visual_features, frame_mask, modality_mask[..., _VISUAL]
            )

        # Dialogue context per modality: C^t, C^a, C^v. A missing modality of one utterance enters as zeros.
        # The DialogueRNN recurrences of all supplied modalities run together (MCNCLContextEncoder.encode_all).
        indices = [i for i in range(3) if supplied[i]]
        encoded = MCNCLContextEncoder.encode_all(
            [self.context_encoders[MODALITIES[i]] for i in indices],
            [unimodal[:, :, i] for i in indices],
            speaker_ids,
            [utterance_mask] * len(indices),
        )
        context = torch.stack(
            [dict(zip(indices, encoded)).get(i, unimodal[:, :, i]) for i in range(3)], dim=2
        )

        states = context
        all_hidden = (states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            keys = context if self.config.kv_source == "context" else states
            states, probs = layer(states, keys, modality_mask)
            if output_hidden_states:
                all_hidden += (states,)
            if output_attentions:
                all_attentions += (probs,)

        states = torch.where(modality_mask.unsqueeze(-1), states, 0.0)
        per_modality = [states[:, :, i] if supplied[i] else None for i in range(3)]
        if not return_dict:
            return tuple(
                v for v in (*per_modality, modality_mask, all_hidden, all_attentions) if v is not None
            )
        return MCNCLModelOutput(
            text_hidden_state=per_modality[_TEXT],
            audio_hidden_state=per_modality[_AUDIO],
            visual_hidden_state=per_modality[_VISUAL],
            modality_mask=modality_mask,
            hidden_states=all_hidden,
            attentions=all_attentions,
        )


class MCNCLForEmotionRecognition(MCNCLPreTrainedModel):
    """MCN-CL with its contrastive projection heads and emotion classifier: one emotion per utterance."""

    def __init__(self, config: MCNCLConfig):
        super().__init__(config)
        self.mcn_cl = MCNCLModel(config)
        self.projection_heads = nn.ModuleDict({m: MCNCLProjectionHead(config) for m in MODALITIES})
        self.classifier = MCNCLClassifier(config)
        self.post_init()

    def get_visual_backbone(self) -> nn.Module | None:
        """See [`MCNCLModel.get_visual_backbone`]."""
        return self.mcn_cl.get_visual_backbone()

    def get_input_embeddings(self) -> nn.Module | None:
        return self.mcn_cl.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.mcn_cl.set_input_embeddings(value)

    @classmethod
    def from_pretrained_encoders(
        cls,
        text_encoder: str | None = "roberta-base",
        visual_weights: str | None = "IMAGENET1K_V2",
        **config_kwargs,
    ) -> MCNCLForEmotionRecognition:
        """Build a fresh MCN-CL whose towers start from pretrained weights, as every real training run should.

        Args:
            text_encoder (`str`, *optional*, defaults to `"roberta-base"`):
                Hub id or local folder of any `AutoModel` text encoder; its config becomes `text_config` and its
                weights are copied into the text tower. `None` keeps a randomly initialised tower (or none, with
                `use_text_encoder=False`).
            visual_weights (`str`, *optional*, defaults to `"IMAGENET1K_V2"`):
                torchvision weights enum name for the ResNet-101. Offline, when torchvision cannot fetch them, the
                backbone stays randomly initialised and a warning says so. `None` skips them.
            config_kwargs:
                Any other [`MCNCLConfig`] field (labels, feature sizes, T, ...).
        """
        pretrained_text = None
        if text_encoder is not None and config_kwargs.get("use_text_encoder", True):
            pretrained_text = AutoModel.from_pretrained(text_encoder)
            config_kwargs["text_config"] = pretrained_text.config.to_dict()
        config = MCNCLConfig(**config_kwargs)
        model = cls(config)
        if pretrained_text is not None:
            model.mcn_cl.text_encoder.encoder.load_state_dict(pretrained_text.state_dict())
            config.text_config._name_or_path = text_encoder
        backbone = model.get_visual_backbone()
        if backbone is not None and visual_weights is not None:
            from torchvision.models import ResNet101_Weights

            try:
                state = ResNet101_Weights[visual_weights].get_state_dict(progress=False)
            except Exception as err:  # offline or no cache: keep the random backbone, loudly
                logger.warning(
                    "Could not load torchvision ResNet-101 weights %r (%s: %s); the visual backbone stays randomly "
                    "initialised. Precompute visual features with pretrained weights for real training.",
                    visual_weights,
                    type(err).__name__,
                    err,
                )
            else:
                backbone.load_state_dict(state)
        return model

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        text_features: torch.FloatTensor | None = None,
        audio_features: torch.FloatTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        visual_features: torch.FloatTensor | None = None,
        frame_mask: torch.LongTensor | None = None,
        speaker_ids: torch.LongTensor | None = None,
        utterance_mask: torch.LongTensor | None = None,
        modality_mask: torch.LongTensor | None = None,
        labels: torch.LongTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MCNCLOutput | tuple:
        r"""
        Inputs as in [`MCNCLModel.forward`], plus:

        labels (`torch.LongTensor` of shape `(batch_size, num_utterances)`, *optional*):
            Class ids in `[0, num_labels)`, -100 for padding and unlabelled utterances. When given, `loss` is the
            (class-weighted) cross-entropy over the labelled utterances.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.mcn_cl(
            input_ids=input_ids,
            attention_mask=attention_mask,
            text_features=text_features,
            audio_features=audio_features,
            pixel_values=pixel_values,
            visual_features=visual_features,
            frame_mask=frame_mask,
            speaker_ids=speaker_ids,
            utterance_mask=utterance_mask,
            modality_mask=modality_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        per_modality = [outputs.text_hidden_state, outputs.audio_hidden_state, outputs.visual_hidden_state]
        reference = next(h for h in per_modality if h is not None)
        fused = torch.cat([h if h is not None else torch.zeros_like(reference) for h in per_modality], dim=-1)
        logits = self.classifier(fused)  # eq. 28-31
        embeds = [
            self.projection_heads[m](h) if h is not None else None for m, h in zip(MODALITIES, per_modality)
        ]

        loss = None
        if labels is not None:
            weight = None
            if self.config.class_weights is not None:
                weight = torch.tensor(self.config.class_weights, dtype=torch.float32, device=logits.device)
            flat_labels = labels.reshape(-1).long()
            if (flat_labels != -100).any():
                loss = F.cross_entropy(
                    logits.float().reshape(-1, logits.shape[-1]),
                    flat_labels,
                    weight=weight,
                    ignore_index=-100,
                )
            else:  # no labelled utterance (cross_entropy would give NaN): a zero loss that keeps the graph
                loss = logits.float().sum() * 0.0

        if not return_dict:
            out = (logits, *embeds, outputs.modality_mask, outputs.hidden_states, outputs.attentions)
            out = tuple(v for v in out if v is not None)
            return ((loss,) + out) if loss is not None else out
        return MCNCLOutput(
            loss=loss,
            logits=logits,
            text_embeds=embeds[_TEXT],
            audio_embeds=embeds[_AUDIO],
            visual_embeds=embeds[_VISUAL],
            modality_mask=outputs.modality_mask,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


# Hub custom code: `save_pretrained` writes `auto_map` and copies this folder's files next to the weights.
MCNCLConfig.register_for_auto_class()
MCNCLForEmotionRecognition.register_for_auto_class("AutoModel")

__all__ = [
    "MCNCLPreTrainedModel",
    "MCNCLModel",
    "MCNCLForEmotionRecognition",
    "MCNCLOutput",
    "MCNCLModelOutput",
    "MCNCLPyramidSqueezeAttention",
    "MCNCLCrossModalLayer",
    "MCNCLProjectionHead",
]

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
from typing import NamedTuple

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


def _build_text_tower(text_config) -> PreTrainedModel:
    """`AutoModel.from_config(text_config)` without its pooler where the architecture allows it (BERT, RoBERTa and
    their kin take `add_pooling_layer=False`): the pooled output is never used, so a pooler would be a parameter
    without a gradient (DDP would need `find_unused_parameters`, and gradient checkpointing breaks it)."""
    try:
        return AutoModel.from_config(text_config, add_pooling_layer=False)
    except TypeError:  # the architecture has no pooler switch
        return AutoModel.from_config(text_config)


class MCNCLTextEncoder(nn.Module):
    """Text tower: `AutoModel.from_config(config.text_config)` (RoBERTa-base by default), pooled to one vector per
    utterance, then Linear D_t -> hidden_size. With `use_text_encoder=False` only the projection of precomputed
    `text_features` exists."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.pooling = config.text_pooling
        self.encoder = _build_text_tower(config.text_config) if config.use_text_encoder else None
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


def _sinusoidal_positions(positions: torch.Tensor, size: int, dtype: torch.dtype) -> torch.Tensor:
    """Sinusoidal embeddings (Vaswani et al., 2017) of utterance indices: [...] long -> [..., size]."""
    half = (size + 1) // 2
    inv_freq = torch.exp(
        torch.arange(half, device=positions.device, dtype=torch.float32) * (-math.log(10000.0) / half)
    )
    angles = positions.to(torch.float32).unsqueeze(-1) * inv_freq
    return torch.cat([angles.sin(), angles.cos()], dim=-1)[..., :size].to(dtype)


class _DialogueRNNState(NamedTuple):
    """Recurrent state of one DialogueRNN direction after some steps: global state g [B, H], party states q
    [B, max_speakers, H], emotion state e [B, H]."""

    global_state: torch.Tensor
    party: torch.Tensor
    emotion: torch.Tensor


class MCNCLDialogueRNN(nn.Module):
    """Speaker-aware context encoder after DialogueRNN (Majumder et al., 2019), run in both directions (forward
    only with `config.causal`).

    Per step t (utterance u_t of speaker s): global state g_t = GRU_G([u_t; q_s], g_{t-1}); context c_t = attention of
    u_t over g_1..g_{t-1}; party state q_s = GRU_P([u_t; c_t], q_s); emotion state e_t = GRU_E(q_s, e_{t-1}). The
    recurrence over utterances is sequential by nature; every step is batched over dialogues, and masked steps
    (padding, or the modality missing for that utterance) leave all states unchanged and are excluded from the
    attention over the past. The directions (and, through [`MCNCLContextEncoder.encode_all`], the modalities) run
    as one grouped loop (`grouped_dialogue_rnn`). The emotion states of the directions are projected back to
    hidden_size and added to the input (residual + LayerNorm).
    """

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        hidden = config.hidden_size
        self.max_speakers = config.max_speakers
        num_directions = 1 if config.causal else 2
        self.directions = nn.ModuleList(
            _DialogueRNNCell(hidden, config.max_speakers) for _ in range(num_directions)
        )
        self.output = nn.Linear(num_directions * hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def recurrence_inputs(
        self, x: torch.Tensor, speaker_ids: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The inputs of the directions' recurrences, stacked: x [B, N, H], speaker_ids and mask [B, N] ->
        [D, B, N, H], [D, B, N], [D, B, N] with D = len(self.directions). The backward direction runs over the
        flipped row (padding first): masked steps leave every state unchanged, so it visits exactly each dialogue's
        valid steps in reverse."""
        if len(self.directions) == 1:
            return x.unsqueeze(0), speaker_ids.unsqueeze(0), mask.unsqueeze(0)
        return (
            torch.stack([x, x.flip(1)]),
            torch.stack([speaker_ids, speaker_ids.flip(1)]),
            torch.stack([mask, mask.flip(1)]),
        )

    def forward(self, x: torch.Tensor, speaker_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: [B, N, H], speaker_ids: [B, N], mask: [B, N] bool (utterance real and modality present) -> [B, N, H]."""
        return run_dialogue_rnns([self], [x], speaker_ids, [mask])[0]

    def merge_recurrences(self, x: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """x [B, N, H] and the emotion states [D, B, N, H] of the recurrences of `recurrence_inputs` -> [B, N, H]."""
        emotion_states = [states[0]] if len(self.directions) == 1 else [states[0], states[1].flip(1)]
        return self.merge(x, emotion_states)

    def merge(self, x: torch.Tensor, emotion_states: list[torch.Tensor]) -> torch.Tensor:
        """Residual + LayerNorm over the projected emotion states of the directions ([..., H] each) -> [..., H]."""
        return self.norm(x + self.output(self.dropout(torch.cat(emotion_states, dim=-1))))


def run_dialogue_rnns(
    rnns: list[MCNCLDialogueRNN],
    inputs: list[torch.Tensor],
    speaker_ids: torch.Tensor,
    masks: list[torch.Tensor],
) -> list[torch.Tensor]:
    """Several [`MCNCLDialogueRNN`]s (e.g. one per modality) with all their recurrences (modalities x directions)
    advanced together by `grouped_dialogue_rnn`: inputs [B, N, H] and masks [B, N] bool per rnn, speaker_ids
    [B, N] -> [B, N, H] per rnn. The same as calling each rnn on its own."""
    parts = [rnn.recurrence_inputs(x, speaker_ids, m) for rnn, x, m in zip(rnns, inputs, masks)]
    x, speakers, step_masks = (torch.cat(tensors) for tensors in zip(*parts))
    states = grouped_dialogue_rnn(x, speakers, step_masks, [cell for rnn in rnns for cell in rnn.directions])
    states = states.split([len(rnn.directions) for rnn in rnns])
    return [rnn.merge_recurrences(x, s) for rnn, x, s in zip(rnns, inputs, states)]


class _DialogueRNNCell(nn.Module):
    """The parameters of one direction's recurrence. A full sequence runs through `grouped_dialogue_rnn` (which
    documents the step); [`step`] advances one utterance for streaming and computes the same recurrence. Mask
    semantics: a masked step leaves the global, party and emotion states unchanged and its global state is excluded
    from later attention."""

    def __init__(self, hidden: int, max_speakers: int):
        super().__init__()
        # party states for every possible speaker index (the model checks speaker_ids < max_speakers): sizing
        # them from `speaker_ids.max()` would cost a device-to-host sync per call
        self.max_speakers = max_speakers
        self.global_cell = nn.GRUCell(2 * hidden, hidden)
        self.party_cell = nn.GRUCell(2 * hidden, hidden)
        self.emotion_cell = nn.GRUCell(hidden, hidden)
        self.attention = nn.Linear(hidden, hidden, bias=False)

    def initial_state(self, reference: torch.Tensor) -> _DialogueRNNState:
        """Zero states for the dialogues of `reference` [B, H]."""
        batch, hidden = reference.shape
        return _DialogueRNNState(
            reference.new_zeros(batch, hidden),
            reference.new_zeros(batch, self.max_speakers, hidden),
            reference.new_zeros(batch, hidden),
        )

    def step(
        self,
        u: torch.Tensor,
        speaker: torch.Tensor,
        valid: torch.Tensor,
        state: _DialogueRNNState,
        past: torch.Tensor | None,
        past_valid: torch.Tensor | None,
    ) -> _DialogueRNNState:
        """One utterance: u [B, H], speaker [B], valid [B] bool; `past` [B, t, H] the global states of the earlier
        steps and `past_valid` [B, t] which of them are valid (None at t = 0). Returns the new state."""
        rows = torch.arange(u.shape[0], device=u.device)
        keep = valid.unsqueeze(-1)
        q_speaker = state.party[rows, speaker]
        new_global = self.global_cell(torch.cat([u, q_speaker], dim=-1), state.global_state)
        if past is not None and past.shape[1] > 0:
            scores = torch.einsum("bh,bth->bt", self.attention(u), past)
            scores = scores.masked_fill(~past_valid, torch.finfo(scores.dtype).min)
            weights = torch.softmax(scores, dim=-1) * past_valid.any(-1, keepdim=True)
            context = torch.einsum("bt,bth->bh", weights, past)
        else:
            context = torch.zeros_like(u)
        new_party = self.party_cell(torch.cat([u, context], dim=-1), q_speaker)
        new_emotion = self.emotion_cell(new_party, state.emotion)
        update = F.one_hot(speaker, self.max_speakers).to(torch.bool).unsqueeze(-1) & keep.unsqueeze(1)
        return _DialogueRNNState(
            torch.where(keep, new_global, state.global_state),
            torch.where(update, new_party.unsqueeze(1), state.party),
            torch.where(keep, new_emotion, state.emotion),
        )

    def forward(self, x: torch.Tensor, speaker_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: [B, N, H], speaker_ids: [B, N], mask: [B, N] bool -> emotion states [B, N, H]."""
        return grouped_dialogue_rnn(x.unsqueeze(0), speaker_ids.unsqueeze(0), mask.unsqueeze(0), [self])[0]


class MCNCLContextEncoder(nn.Module):
    """Dialogue context over the N utterances of one modality: `"dialoguernn"` (speaker-aware), `"bigru"` or
    `"transformer"` (both with speaker embeddings), or `"none"`. The mask given is per modality (utterance real and
    modality present): masked steps are skipped as padding is, so they never influence the valid ones. With
    `config.causal` every step sees only itself and the past, and [`step`] advances one utterance at a time."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.kind = config.context_encoder
        self.causal = config.causal
        hidden = config.hidden_size
        self.use_positions = config.utterance_position_encoding == "sinusoidal" and (
            self.kind == "transformer" or (self.kind == "none" and config.use_mcn)
        )
        if self.kind == "dialoguernn":
            self.rnn = MCNCLDialogueRNN(config)
        elif self.kind in ("bigru", "transformer"):
            self.speaker_embeddings = nn.Embedding(config.max_speakers, hidden)
            if self.kind == "bigru":
                # causal: one forward GRU of full width instead of two half-width directions
                self.gru = nn.GRU(
                    hidden,
                    hidden if self.causal else hidden // 2,
                    batch_first=True,
                    bidirectional=not self.causal,
                )
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

    def _positions(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x [B, n, H] plus the position embeddings of utterances start .. start + n - 1 (when enabled)."""
        if not self.use_positions:
            return x
        positions = torch.arange(start, start + x.shape[1], device=x.device)
        return x + _sinusoidal_positions(positions, x.shape[-1], x.dtype)

    @staticmethod
    def _transformer_layer(
        layer: nn.TransformerEncoderLayer, query: torch.Tensor, memory: torch.Tensor, allowed: torch.Tensor
    ) -> torch.Tensor:
        """One post-norm encoder layer whose queries [B, n, H] attend to `memory` [B, m, H] where `allowed`
        [B, n, m] is true (every row has a true entry)."""
        blocked = (~allowed).repeat_interleave(layer.self_attn.num_heads, dim=0)
        attended = layer.self_attn(query, memory, memory, attn_mask=blocked, need_weights=False)[0]
        x = layer.norm1(query + layer.dropout1(attended))
        return layer.norm2(
            x + layer.dropout2(layer.linear2(layer.dropout(layer.activation(layer.linear1(x)))))
        )

    def forward(self, x: torch.Tensor, speaker_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: [B, N, H] unimodal features (0 where masked), speaker_ids: [B, N], mask: [B, N] bool (utterance real
        and modality present) -> context features [B, N, H], 0 where masked."""
        if self.kind == "none":
            out = self._positions(x)
        elif self.kind == "dialoguernn":
            out = self.rnn(x, speaker_ids, mask)
        elif self.kind == "bigru":
            # Skip masked steps: move each dialogue's valid steps to the front (in order), pack, run, move back.
            order = torch.sort((~mask).to(torch.uint8), dim=1, stable=True).indices.unsqueeze(-1)
            compact = (x + self.speaker_embeddings(speaker_ids)).gather(1, order.expand_as(x))
            lengths = mask.sum(1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(
                compact, lengths, batch_first=True, enforce_sorted=False
            )
            out, _ = self.gru(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            out = torch.zeros_like(out).scatter(1, order.expand_as(out), out)
            out = self.norm(x + out)
        else:
            num_utt = x.shape[1]
            allowed = mask.unsqueeze(1).expand(-1, num_utt, -1)  # [B, query, key]
            if self.causal:
                allowed = allowed.tril()
            # every step may attend to itself: a masked step (its output is discarded) never has an empty row
            allowed = allowed | torch.eye(num_utt, dtype=torch.bool, device=x.device)
            out = self._positions(x + self.speaker_embeddings(speaker_ids))
            for layer in self.transformer.layers:
                out = self._transformer_layer(layer, out, out, allowed)
        return _zero_absent(out, mask)

    def init_state(self) -> dict[str, object]:
        """Empty streaming state (causal encoders only): filled by [`step`]."""
        return {"position": 0}

    def step(
        self, x: torch.Tensor, speaker: torch.Tensor, valid: torch.Tensor, state: dict[str, object]
    ) -> torch.Tensor:
        """One new utterance per dialogue of a causal encoder: x [B, H], speaker [B], valid [B] bool. Updates
        `state` in place (recurrent states, past layer inputs) and returns the context features [B, H], equal to
        [`forward`] over all utterances so far at the last position."""
        position = state["position"]
        if self.kind == "none":
            out = self._positions(x.unsqueeze(1), position)[:, 0]
        elif self.kind == "dialoguernn":
            cell = self.rnn.directions[0]
            if "rnn" not in state:
                state.update(rnn=cell.initial_state(x), history=None, history_valid=None)
            new = cell.step(x, speaker, valid, state["rnn"], state["history"], state["history_valid"])
            state["rnn"] = new
            state["history"] = _append_step(state["history"], new.global_state)
            state["history_valid"] = _append_step(state["history_valid"], valid)
            out = self.rnn.merge(x, [new.emotion])
        elif self.kind == "bigru":
            previous = state.get("gru")
            if previous is None:
                previous = x.new_zeros(1, x.shape[0], self.gru.hidden_size)
            out, hidden = self.gru((x + self.speaker_embeddings(speaker)).unsqueeze(1), previous)
            # a masked step changes nothing
            state["gru"] = torch.where(valid[None, :, None], hidden, previous)
            out = self.norm(x + out[:, 0])
        else:
            valid_so_far = _append_step(state.get("valid"), valid)
            state["valid"] = valid_so_far
            allowed = valid_so_far.clone()
            allowed[:, -1] = True  # the step itself
            out = self._positions((x + self.speaker_embeddings(speaker)).unsqueeze(1), position)
            for index, layer in enumerate(self.transformer.layers):
                memory = _append_step(state.get(f"layer{index}"), out[:, 0])
                state[f"layer{index}"] = memory
                out = self._transformer_layer(layer, out, memory, allowed.unsqueeze(1))
            out = out[:, 0]
        state["position"] = position + 1
        return torch.where(valid.unsqueeze(-1), out, 0.0)

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


def _append_step(past: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
    """Append one step `new` [B, ...] to `past` [B, t, ...] (None: no step yet) -> [B, t + 1, ...]."""
    new = new.unsqueeze(1)
    return new if past is None else torch.cat([past, new], dim=1)


class MCNCLCrossAttention(nn.Module):
    """Multi-head cross-attention (eqs. 6-10): queries from one modality, keys/values from another, over the
    utterances of the dialogue. Keys that are padding or lack the modality are masked, and with `config.causal`
    so are the keys after the query's utterance. `has_key` tells which queries have any key left: the caller
    leaves the others unchanged (no output bias, no LayerNorm), so a dialogue's output never depends on whether
    another dialogue of the batch has that key modality."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.causal = config.causal
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.output = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def forward(
        self, hidden: torch.Tensor, key_value: torch.Tensor, key_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """hidden: [B, n, H] queries, the utterances m - n .. m - 1 of key_value [B, m, H] (n = m in a full
        forward; n = 1 when streaming); key_mask: [B, m] bool. Returns the update [B, n, H], the attention
        probabilities [B, heads, n, m] and has_key [B, n] bool."""
        update, probs, has_key = self.grouped_forward([self], hidden[None], key_value[None], key_mask[None])
        return update[0], probs[0], has_key[0]

    @staticmethod
    def grouped_forward(
        modules: list[MCNCLCrossAttention],
        hidden: torch.Tensor,
        key_value: torch.Tensor,
        key_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`modules[g](hidden[g], key_value[g], key_mask[g])` for every group g at once, their weights stacked
        (`_grouped_linear`): hidden [G, B, n, H], key_value [G, B, m, H], key_mask [G, B, m] -> updates
        [G, B, n, H], probs [G, B, heads, n, m], has_key [G, B, n]. The modules share heads, causality and
        dropout rate (the MCN layer's branches do)."""
        first = modules[0]
        groups, batch, num_queries, _ = hidden.shape
        num_keys = key_value.shape[2]

        def heads(x: torch.Tensor) -> torch.Tensor:  # [G, B, n, H] -> [G, B, heads, n, head_dim]
            return x.view(groups, batch, -1, first.num_heads, first.head_dim).transpose(2, 3)

        allowed = key_mask.unsqueeze(2)  # [G, B, 1, m]
        if first.causal:
            query_position = torch.arange(num_keys - num_queries, num_keys, device=hidden.device).unsqueeze(
                -1
            )
            allowed = allowed & (
                torch.arange(num_keys, device=hidden.device) <= query_position
            )  # [G, B, n, m]
        has_key = allowed.any(-1).expand(groups, batch, num_queries)
        q = heads(_grouped_linear(hidden, [m.query for m in modules]))
        k = heads(_grouped_linear(key_value, [m.key for m in modules]))
        v = heads(_grouped_linear(key_value, [m.value for m in modules]))
        scores = q @ k.transpose(-1, -2) / math.sqrt(first.head_dim)  # eq. 9
        scores = scores.masked_fill(~allowed.unsqueeze(2), torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, dim=-1) * has_key[:, :, None, :, None].to(scores.dtype)
        context = (first.dropout(probs) @ v).transpose(2, 3).reshape(groups, batch, num_queries, -1)
        return _grouped_linear(context, [m.output for m in modules]), probs, has_key  # eq. 10


class MCNCLCrossModalLayer(GradientCheckpointingLayer):
    """One MCN layer (Sec. 2.3): every modality is a query (triple query). For query modality q with keys (k1, k2)
    from `config.query_order`: F = Add&Norm(F_q + MHA(F_q, K_k1)) (eqs. 6-11), F = Add&Norm(F + MHA(F, K_k2))
    (eqs. 12-14), F = Add&Norm(F + FFN(F)). Keys/values are the context features C^k (eqs. 7, 13) or, with
    `kv_source="previous_layer"`, the key modality's output of the previous layer. A query without any valid key
    in its dialogue skips that attention's Add&Norm."""

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
        """queries: [B, n, 3, H] previous layer's outputs for the last n utterances; keys: [B, m, 3, H] the key/value
        source for all m utterances (n = m in a full forward, n = 1 when streaming); key_masks: [B, m, 3] bool.
        Returns the new [B, n, 3, H] and attention probs [B, 6, heads, n, m].

        The three query modalities are independent of each other, so each stage (first key, second key, FFN) runs
        for all of them at once, with their weights stacked (`_grouped_linear`)."""
        batch, num_queries, _, hidden = queries.shape
        num_keys = keys.shape[1]
        # [3]: modality present anywhere; one host copy instead of a device sync per branch below. A skipped
        # attention equals a run one: no query row would have a key.
        present = key_masks.flatten(0, 1).any(0).tolist()
        states = queries.permute(2, 0, 1, 3)  # [3, B, n, H]
        keys, key_masks = keys.permute(2, 0, 1, 3), key_masks.permute(2, 0, 1)
        num_heads = next(iter(self.attention.values())).num_heads
        probs_all = [queries.new_zeros(batch, num_heads, num_queries, num_keys)] * 6  # (query, key) in order
        for stage in range(2):
            key_index = [MODALITIES.index(self.query_order[q][stage]) for q in MODALITIES]
            active = [i for i in range(3) if present[i] and present[key_index[i]]]
            if not active:
                continue
            names = [f"{MODALITIES[i]}_{MODALITIES[key_index[i]]}" for i in active]
            picked = [key_index[i] for i in active]
            state = _select_groups(states, active)
            update, probs, has_key = MCNCLCrossAttention.grouped_forward(
                [self.attention[n] for n in names], state, keys[picked], key_masks[picked]
            )
            normed = _grouped_layer_norm(
                state + self.dropout(update), [self.attention_norm[n] for n in names]
            )
            # Add & Norm (eq. 11), only for queries with a key: the others keep their state
            states = _replace_groups(states, active, torch.where(has_key.unsqueeze(-1), normed, state))
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
    # Checkpoints from before the text tower was built without its (never used) pooler still load.
    _keys_to_ignore_on_load_unexpected = [r"text_encoder\.encoder\.pooler\."]

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

    def _check_speaker_ids(self, speaker_ids: torch.Tensor, utterance_mask: torch.Tensor) -> None:
        bad = utterance_mask & ((speaker_ids < 0) | (speaker_ids >= self.config.max_speakers))
        if bad.any():
            dialogue, utterance = bad.nonzero()[0].tolist()
            raise ValueError(
                f"speaker_ids: dialogue {dialogue}, utterance {utterance} has speaker index "
                f"{int(speaker_ids[dialogue, utterance])}; speaker indices must lie in [0, config.max_speakers="
                f"{self.config.max_speakers})"
            )

    def _embed_utterances(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        text_features: torch.Tensor | None,
        audio_features: torch.Tensor | None,
        pixel_values: torch.Tensor | None,
        visual_features: torch.Tensor | None,
        frame_mask: torch.Tensor | None,
        speaker_ids: torch.Tensor | None,
        utterance_mask: torch.Tensor | None,
        modality_mask: torch.Tensor | None,
    ) -> _EmbeddedUtterances:
        """Validate the inputs of [`forward`] and run the unimodal encoders. A modality whose input is missing or
        masked for every utterance of the batch is absent: its encoder does not run."""
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
        speaker_ids = speaker_ids.long()
        self._check_speaker_ids(speaker_ids, utterance_mask)
        speaker_ids = speaker_ids.masked_fill(~utterance_mask, 0)
        supplied_mask = torch.tensor([given[m] is not None for m in MODALITIES], device=device)
        if modality_mask is None:
            modality_mask = supplied_mask.expand(batch, num_utt, 3)
        modality_mask = modality_mask.bool() & supplied_mask & utterance_mask.unsqueeze(-1)
        # Python bools (one host copy): branching on them needs no further sync
        present = modality_mask.flatten(0, 1).any(0).tolist() if num_utt else [False] * 3

        unimodal = torch.zeros(batch, num_utt, 3, self.config.hidden_size, dtype=self.dtype, device=device)
        if present[_TEXT]:
            unimodal[:, :, _TEXT] = self.text_encoder(
                input_ids, attention_mask, text_features, modality_mask[..., _TEXT]
            )
        if present[_AUDIO]:
            unimodal[:, :, _AUDIO] = self.audio_encoder(audio_features, modality_mask[..., _AUDIO])
        if present[_VISUAL]:
            unimodal[:, :, _VISUAL] = self.visual_encoder(
                pixel_values, visual_features, frame_mask, modality_mask[..., _VISUAL]
            )
        return _EmbeddedUtterances(unimodal, speaker_ids, modality_mask, present)

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
                Speaker index inside the dialogue, in `[0, config.max_speakers)` (default: all 0).
            utterance_mask (`torch.LongTensor` of shape `(batch_size, num_utterances)`):
                1 for real utterances, 0 for padding (padding after the real ones). Default: all 1.
            modality_mask (`torch.LongTensor` of shape `(batch_size, num_utterances, 3)`):
                1 where the modality (text, audio, visual) is present for the utterance. Default: present for
                every modality whose input is given. A masked modality of an utterance is skipped by that
                modality's context encoder and MCN keys, as padding is; a modality masked everywhere is absent.
        """
        output_attentions = (
            output_attentions if output_attentions is not None else self.config.output_attentions
        )
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict

        embedded = self._embed_utterances(
            input_ids,
            attention_mask,
            text_features,
            audio_features,
            pixel_values,
            visual_features,
            frame_mask,
            speaker_ids,
            utterance_mask,
            modality_mask,
        )
        modality_mask, present = embedded.modality_mask, embedded.present
        # Dialogue context per modality: C^t, C^a, C^v; each encoder skips the utterances lacking its modality.
        # The DialogueRNN recurrences of all present modalities run together (MCNCLContextEncoder.encode_all).
        indices = [i for i in range(3) if present[i]]
        encoded = dict(
            zip(
                indices,
                MCNCLContextEncoder.encode_all(
                    [self.context_encoders[MODALITIES[i]] for i in indices],
                    [embedded.unimodal[:, :, i] for i in indices],
                    embedded.speaker_ids,
                    [modality_mask[..., i] for i in indices],
                ),
            )
        )
        context = torch.stack(
            [encoded[i] if present[i] else embedded.unimodal[:, :, i] for i in range(3)], dim=2
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

        output = self._output(states, modality_mask, present, all_hidden, all_attentions)
        return output if return_dict else output.to_tuple()

    @staticmethod
    def _output(
        states: torch.Tensor,
        modality_mask: torch.Tensor,
        present: list[bool],
        all_hidden: tuple[torch.Tensor, ...] | None = None,
        all_attentions: tuple[torch.Tensor, ...] | None = None,
    ) -> MCNCLModelOutput:
        states = torch.where(modality_mask.unsqueeze(-1), states, 0.0)
        per_modality = [states[:, :, i] if present[i] else None for i in range(3)]
        return MCNCLModelOutput(
            text_hidden_state=per_modality[_TEXT],
            audio_hidden_state=per_modality[_AUDIO],
            visual_hidden_state=per_modality[_VISUAL],
            modality_mask=modality_mask,
            hidden_states=all_hidden,
            attentions=all_attentions,
        )

    def init_stream(self, batch_size: int = 1) -> MCNCLStream:
        """Start an online session over `batch_size` dialogues: see [`MCNCLStream`]. Needs `config.causal=True`."""
        return MCNCLStream(self, batch_size)

    def _stream_step(self, stream: MCNCLStream, **inputs) -> MCNCLModelOutput:
        """One utterance per dialogue through a causal model, from the cached past of `stream` (which it updates)."""
        embedded = self._embed_utterances(
            **{name: inputs.get(name) for name in _STREAM_INPUTS if name != "labels"}
        )
        batch, num_utt = embedded.modality_mask.shape[:2]
        if num_utt != 1 or batch != stream.batch_size:
            raise ValueError(
                f"MCNCLStream.step takes one new utterance for each of the {stream.batch_size} dialogues "
                f"(inputs of shape [{stream.batch_size}, 1, ...]); got batch/utterance shape {(batch, num_utt)}"
            )
        modality_mask = embedded.modality_mask
        context = torch.stack(
            [
                self.context_encoders[m].step(
                    embedded.unimodal[:, 0, i],
                    embedded.speaker_ids[:, 0],
                    modality_mask[:, 0, i],
                    stream.context_states[m],
                )
                for i, m in enumerate(MODALITIES)
            ],
            dim=1,
        ).unsqueeze(1)  # [B, 1, 3, H]
        stream.modality_masks = _append_step(stream.modality_masks, modality_mask[:, 0])
        states = context
        for index, layer in enumerate(self.layers):
            if index == 0 or self.config.kv_source == "previous_layer":
                stream.layer_inputs[index] = _append_step(stream.layer_inputs[index], states[:, 0])
            keys = stream.layer_inputs[0 if self.config.kv_source == "context" else index]
            states, _ = layer(states, keys, stream.modality_masks)
        return self._output(states, modality_mask, embedded.present)


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
            tower = model.mcn_cl.text_encoder.encoder
            missing, unexpected = tower.load_state_dict(pretrained_text.state_dict(), strict=False)
            unexpected = [
                key for key in unexpected if not key.startswith("pooler.")
            ]  # the tower has no pooler
            if missing or unexpected:
                raise ValueError(
                    f"text_encoder {text_encoder!r}: its weights do not fit the text tower (missing {missing}, "
                    f"unexpected {unexpected})"
                )
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
        logits, embeds = self._heads(per_modality, outputs.modality_mask)
        loss = self._loss(logits, labels, utterance_mask) if labels is not None else None

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

    def _heads(
        self, per_modality: list[torch.Tensor | None], modality_mask: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """Each modality's F^{m(T)} [B, N, H] (None when absent) -> logits [B, N, K] and the projections z'_m.
        Absent modalities enter the classifier as zeros (all three when nothing is present, e.g. only padding)."""
        absent = modality_mask.new_zeros(*modality_mask.shape[:2], self.config.hidden_size, dtype=self.dtype)
        fused = torch.cat([h if h is not None else absent for h in per_modality], dim=-1)
        logits = self.classifier(fused)  # eq. 28-31
        embeds = [
            self.projection_heads[m](h) if h is not None else None for m, h in zip(MODALITIES, per_modality)
        ]
        return logits, embeds

    def _loss(
        self, logits: torch.Tensor, labels: torch.Tensor, utterance_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """(Class-weighted) cross-entropy over the real (`utterance_mask`), labelled (not -100) utterances."""
        if tuple(labels.shape) != tuple(logits.shape[:2]):
            raise ValueError(f"labels: shape {tuple(labels.shape)}, expected {tuple(logits.shape[:2])}")
        labels = labels.long()
        if utterance_mask is not None:
            labels = labels.masked_fill(~utterance_mask.bool(), -100)
        num_labels = logits.shape[-1]
        bad = (labels != -100) & ((labels < 0) | (labels >= num_labels))
        if bad.any():
            dialogue, utterance = bad.nonzero()[0].tolist()
            raise ValueError(
                f"labels: dialogue {dialogue}, utterance {utterance} has label {int(labels[dialogue, utterance])}; "
                f"labels must be class ids in [0, {num_labels}) or -100 (unlabelled)"
            )
        flat_labels = labels.reshape(-1)
        if not (flat_labels != -100).any():  # nothing labelled (cross_entropy would give NaN): a zero loss
            return logits.float().sum() * 0.0
        weight = None
        if self.config.class_weights is not None:
            weight = torch.tensor(self.config.class_weights, dtype=torch.float32, device=logits.device)
        return F.cross_entropy(
            logits.float().reshape(-1, num_labels), flat_labels, weight=weight, ignore_index=-100
        )

    def init_stream(self, batch_size: int = 1) -> MCNCLStream:
        """Start an online session over `batch_size` dialogues: `stream.step(**inputs)` takes one new utterance per
        dialogue and returns its [`MCNCLOutput`] from the cached past. See [`MCNCLStream`].

        Raises:
            ValueError: the model is bidirectional (`config.causal=False`).
        """
        return MCNCLStream(self, batch_size)

    def _stream_step(self, stream: MCNCLStream, **inputs) -> MCNCLOutput:
        outputs = self.mcn_cl._stream_step(stream, **inputs)
        per_modality = [outputs.text_hidden_state, outputs.audio_hidden_state, outputs.visual_hidden_state]
        logits, embeds = self._heads(per_modality, outputs.modality_mask)
        labels = inputs.get("labels")
        return MCNCLOutput(
            loss=self._loss(logits, labels, inputs.get("utterance_mask")) if labels is not None else None,
            logits=logits,
            text_embeds=embeds[_TEXT],
            audio_embeds=embeds[_AUDIO],
            visual_embeds=embeds[_VISUAL],
            modality_mask=outputs.modality_mask,
        )


class MCNCLStream:
    """Online inference with a causal MCN-CL (`config.causal=True`): one utterance per dialogue at a time, each
    prediction from the utterances so far only.

    The stream caches, for each modality, the context encoder's state (DialogueRNN global / party / emotion states
    and the past global states; GRU hidden state; the transformer's past layer inputs), the modality masks of the
    past utterances and the MCN keys/values (the context features, and with `kv_source="previous_layer"` every
    layer's past inputs), so a step costs one utterance, not a re-run of the dialogue. Streaming N utterances gives
    the logits of the model's forward over the N utterances (up to float rounding).

    ```python
    >>> stream = model.eval().init_stream(batch_size=1)
    >>> for utterance in dialogue:  # inputs of `forward` with num_utterances = 1: [1, 1, ...]
    ...     out = stream.step(**utterance)  # out.logits: [1, 1, num_labels]
    ```

    A dialogue of the batch that has ended takes `utterance_mask` 0 (its states stay unchanged). Steps run without
    gradients; use the model in eval mode (dropout would otherwise apply).
    """

    def __init__(self, model: MCNCLModel | MCNCLForEmotionRecognition, batch_size: int = 1):
        if not model.config.causal:
            raise ValueError(
                "This model is bidirectional (config.causal=False): its prediction for an utterance depends on the "
                "utterances after it (backward context encoder, MCN attention to later utterances), so it cannot "
                "predict online. Stream a model trained with config.causal=True, or run the whole dialogue "
                "through forward()."
            )
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size: must be a positive integer, got {batch_size!r}")
        self.model = model
        self.batch_size = batch_size
        self._core = model.mcn_cl if isinstance(model, MCNCLForEmotionRecognition) else model
        self.reset()

    def reset(self) -> None:
        """Forget every utterance seen: the next step starts new dialogues."""
        self.num_steps = 0
        self.context_states = {m: self._core.context_encoders[m].init_state() for m in MODALITIES}
        self.modality_masks: torch.Tensor | None = None  # [B, num_steps, 3]
        self.layer_inputs: list[torch.Tensor | None] = [None] * len(self._core.layers)  # [B, num_steps, 3, H]

    @torch.no_grad()
    def step(self, **inputs) -> MCNCLOutput | MCNCLModelOutput:
        """One new utterance per dialogue. Keyword inputs as in `forward` with num_utterances = 1 (input_ids /
        attention_mask [B, 1, T] or text_features [B, 1, D_t], audio_features [B, 1, D_a], pixel_values
        [B, 1, L, 3, H, W] or visual_features [B, 1, L, D_v] / [B, 1, D_v], frame_mask, speaker_ids [B, 1],
        utterance_mask [B, 1], modality_mask [B, 1, 3], optionally labels [B, 1]); a modality may be missing at any
        step. Returns the model's output for this utterance (logits [B, 1, K] for the emotion model)."""
        unknown = (
            set(inputs) - set(_STREAM_INPUTS) - {"output_attentions", "output_hidden_states", "return_dict"}
        )
        if unknown:
            raise ValueError(
                f"MCNCLStream.step: unknown inputs {sorted(unknown)}; expected some of {_STREAM_INPUTS}"
            )
        out = self.model._stream_step(self, **{k: v for k, v in inputs.items() if k in _STREAM_INPUTS})
        self.num_steps += 1
        return out


_STREAM_INPUTS = (
    "input_ids",
    "attention_mask",
    "text_features",
    "audio_features",
    "pixel_values",
    "visual_features",
    "frame_mask",
    "speaker_ids",
    "utterance_mask",
    "modality_mask",
    "labels",
)


class _EmbeddedUtterances(NamedTuple):
    """The validated inputs after the unimodal encoders: unimodal [B, N, 3, H] (0 where masked), speaker_ids
    [B, N], the effective modality_mask [B, N, 3] (utterance real and modality present) and `present`, which
    modalities are present anywhere in the batch (Python bools)."""

    unimodal: torch.Tensor
    speaker_ids: torch.Tensor
    modality_mask: torch.Tensor
    present: list[bool]


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
    "MCNCLStream",
]

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCN-CL's unimodal encoders (Sec. 2.2): the text tower, the audio projection and the visual encoder with its
Pyramid Squeeze Attention, each turning one modality's input into one [hidden_size] vector per utterance.

This file travels to the Hub next to `modeling_mcn_cl.py` (`save_pretrained` copies the relative imports of the
model file): it imports only public libraries and same-folder siblings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel

from .configuration_mcn_cl import MCNCLConfig


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


def _length_buckets(lengths: list[int], token_budget: int, call_cost: int) -> list[list[int]]:
    """Rows grouped for the text tower: `lengths` (tokens each row needs) -> lists of row indices, each run as
    one call padded to its own longest row.

    The rows are sorted by length and cut into runs of consecutive lengths that minimise the padded tokens plus
    `call_cost` tokens per call (dynamic programming over the distinct lengths, at most one per token
    position); a run whose padded size exceeds `token_budget` tokens is cut into calls of at most
    `token_budget // length` rows (at least one)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    ordered = [lengths[i] for i in order]
    # ends[j]: one past the last row of the j-th distinct length; a run always covers whole lengths
    bounds = [0] + [
        k + 1 for k in range(len(ordered)) if k + 1 == len(ordered) or ordered[k + 1] != ordered[k]
    ]

    def cost(start: int, end: int) -> int:
        width = max(ordered[end - 1], 1)
        rows_per_call = max(1, token_budget // width)
        calls = -(-(end - start) // rows_per_call)
        return (end - start) * width + calls * call_cost

    best, cut = [0], [0]
    for j in range(1, len(bounds)):
        options = [(best[i] + cost(bounds[i], bounds[j]), i) for i in range(j)]
        value, i = min(options)
        best.append(value)
        cut.append(i)
    runs, j = [], len(bounds) - 1
    while j > 0:
        runs.append((bounds[cut[j]], bounds[j]))
        j = cut[j]
    buckets = []
    for start, end in reversed(runs):
        rows_per_call = max(1, token_budget // max(ordered[end - 1], 1))
        buckets.extend(order[k : min(k + rows_per_call, end)] for k in range(start, end, rows_per_call))
    return buckets


class MCNCLTextEncoder(nn.Module):
    """Text tower: `AutoModel.from_config(config.text_config)` (RoBERTa-base by default), pooled to one vector per
    utterance, then Linear D_t -> hidden_size. With `use_text_encoder=False` only the projection of precomputed
    `text_features` exists.

    The tower does not pay for padding: the utterances are sorted by real length (up to their last attended
    token), grouped in length buckets (`_length_buckets`: at most `token_budget` padded tokens per call), each
    bucket trimmed to its own longest utterance, and the pooled vectors put back in the original order. Trimming
    trailing padding columns changes nothing for a tower whose position ids do not depend on the padding after
    a token (BERT / RoBERTa and their kin: absolute positions from the left, masked keys get zero attention),
    with right padding, which is what `pad_dialogues` writes. Left-padded input (a row whose first column is
    masked) runs as one call, as before. `token_budget = 0` turns the buckets off (one call padded to the
    longest utterance)."""

    token_budget = 8192  # padded tokens per call of the text tower
    call_cost = 64  # fixed cost of one call, in tokens, for choosing the buckets

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.pooling = config.text_pooling
        self.encoder = _build_text_tower(config.text_config) if config.use_text_encoder else None
        if self.encoder is not None and config.freeze_text_encoder:
            self.encoder.requires_grad_(False)
        self.projection = nn.Linear(config.text_feature_size, config.hidden_size)

    def _encode_padded(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """One call of the tower on [M, T] token ids -> [M, D_t] pooled vectors."""
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "first":
            return states[:, 0]
        return _masked_mean(states, attention_mask.unsqueeze(-1), dim=1)

    def encode_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[M, T] token ids -> [M, D_t] utterance vectors, in length buckets (see the class docstring)."""
        if self.encoder is None:
            raise ValueError(
                "input_ids were given but this model has no text encoder (config.use_text_encoder=False); "
                "pass text_features instead."
            )
        num_rows, num_tok = input_ids.shape
        if self.token_budget <= 0 or num_rows == 0:
            return self._encode_padded(input_ids, attention_mask)
        attended = attention_mask.ne(0)
        # tokens each row needs: up to its last attended column (holes in the mask are kept)
        columns = torch.arange(1, num_tok + 1, device=input_ids.device)
        needed = torch.where(attended, columns, 0).amax(1)
        left_padded = (~attended[:, 0] & (needed > 0)).any()
        # a row without any attended token keeps the full width (its output depends on it), as before
        lengths = torch.where(needed > 0, needed, num_tok).tolist()
        if bool(left_padded) or min(lengths) == num_tok:
            return self._encode_padded(input_ids, attention_mask)
        buckets = _length_buckets(lengths, self.token_budget, self.call_cost)
        pooled = []
        for rows in buckets:
            width = max(lengths[i] for i in rows)
            index = torch.tensor(rows, device=input_ids.device)
            pooled.append(self._encode_padded(input_ids[index, :width], attention_mask[index, :width]))
        order = torch.tensor([i for rows in buckets for i in rows], device=input_ids.device)
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(num_rows, device=input_ids.device)
        return torch.cat(pooled)[inverse]

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
    """Visual: a torchvision backbone per frame (`config.visual_backbone`: ResNet-101, ResNet-18 or SqueezeNet 1.1,
    1000-d ImageNet logits; frozen by default, run under `no_grad` then), Linear 1000 -> hidden_size, PSA over the
    frames, mean over the valid frames -> one vector per utterance."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.backbone = None
        self.freeze_backbone = config.freeze_visual_backbone
        if config.visual_backbone is not None:
            import torchvision.models

            # weights=None: torchvision's random initialisation; ImageNet weights come from
            # `from_pretrained_encoders(visual_weights=...)` or from the checkpoint.
            self.backbone = getattr(torchvision.models, config.visual_backbone)(weights=None)
            if self.freeze_backbone:
                self.backbone.requires_grad_(False)
        self.projection = nn.Linear(config.visual_feature_size, config.hidden_size)
        self.psa = MCNCLPyramidSqueezeAttention(config) if config.use_psa else None

    def encode_frames(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """[F, 3, H, W] ImageNet-normalised frames -> [F, visual_feature_size] backbone features."""
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


__all__ = ["MCNCLTextEncoder", "MCNCLAudioEncoder", "MCNCLPyramidSqueezeAttention", "MCNCLVisualEncoder"]

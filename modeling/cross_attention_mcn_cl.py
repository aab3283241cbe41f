# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCN-CL's Multimodal Cross-attention Network (Sec. 2.3): the cross-attention (eqs. 6-10), the feed-forward block
and the MCN layer that runs them for the three query modalities at once (weights stacked, `_grouped_linear`).

This file travels to the Hub next to `modeling_mcn_cl.py` (`save_pretrained` copies the relative imports of the
model file): it imports only public libraries and same-folder siblings.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer

from .configuration_mcn_cl import MODALITIES, MCNCLConfig


class MCNCLBranchOutput(nn.Linear):
    """The last projection of an MCN residual branch (a cross-attention's `output`, a feed-forward block's `fc2`): an
    `nn.Linear` whose initial weights `MCNCLPreTrainedModel._init_weights` scales by
    `config.mcn_residual_init_scale` (0: zeros, so that a fresh MCN layer is the identity on its LayerNorm'd input)."""


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
        self.output = MCNCLBranchOutput(config.hidden_size, config.hidden_size)
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


class MCNCLFeedForward(nn.Sequential):
    """The position-wise feed-forward block of an MCN layer: `fc1` (hidden_size -> intermediate_size), GELU,
    `dropout`, `fc2` (intermediate_size -> hidden_size).

    An `nn.Sequential` so that the parameters keep the state-dict keys of every earlier checkpoint
    (`ffn.<modality>.0.*` for `fc1`, `ffn.<modality>.3.*` for `fc2`). Code reaches the layers by their names,
    defined here next to the layer list; the MCN layer runs [`grouped_forward`], which equals calling each module
    (tests/test_modeling.py checks it, so editing the layer list without updating the names fails a test instead
    of silently changing the layer)."""

    def __init__(self, config: MCNCLConfig):
        super().__init__(
            nn.Linear(config.hidden_size, config.intermediate_size),
            nn.GELU(),
            nn.Dropout(config.hidden_dropout_prob),
            MCNCLBranchOutput(config.intermediate_size, config.hidden_size),
        )

    @property
    def fc1(self) -> nn.Linear:
        return self[0]

    @property
    def activation(self) -> nn.GELU:
        return self[1]

    @property
    def dropout(self) -> nn.Dropout:
        return self[2]

    @property
    def fc2(self) -> nn.Linear:
        return self[3]

    @staticmethod
    def grouped_forward(modules: list[MCNCLFeedForward], x: torch.Tensor) -> torch.Tensor:
        """`modules[g](x[g])` for every group g at once, their weights stacked (`_grouped_linear`): x [G, ..., H] ->
        [G, ..., H]. The modules share the dropout rate (the MCN layer's do)."""
        first = modules[0]
        hidden = first.activation(_grouped_linear(x, [m.fc1 for m in modules]))
        return _grouped_linear(first.dropout(hidden), [m.fc2 for m in modules])


class MCNCLCrossModalLayer(GradientCheckpointingLayer):
    """One MCN layer (Sec. 2.3): every modality is a query (triple query). For query modality q with keys (k1, k2)
    from `config.query_order`: F = Add&Norm(F_q + MHA(F_q, K_k1)) (eqs. 6-11), F = Add&Norm(F + MHA(F, K_k2))
    (eqs. 12-14), F = Add&Norm(F + FFN(F)) ([`MCNCLFeedForward`]). Keys/values are the context features C^k
    (eqs. 7, 13) or, with `kv_source="previous_layer"`, the key modality's output of the previous layer. A query
    without any valid key in its dialogue skips that attention's Add&Norm."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.query_order = {q: tuple(keys) for q, keys in config.query_order.items()}
        self.attention = nn.ModuleDict(
            {f"{q}_{k}": MCNCLCrossAttention(config) for q in MODALITIES for k in self.query_order[q]}
        )
        self.attention_norm = nn.ModuleDict(
            {name: nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) for name in self.attention}
        )
        self.ffn = nn.ModuleDict({m: MCNCLFeedForward(config) for m in MODALITIES})
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
            update = MCNCLFeedForward.grouped_forward([self.ffn[MODALITIES[i]] for i in active], state)
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


__all__ = ["MCNCLBranchOutput", "MCNCLCrossAttention", "MCNCLFeedForward", "MCNCLCrossModalLayer"]

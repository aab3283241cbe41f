# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCIHN's cross-modal interaction: the Cross-modal Gate Mechanism Model (one gated cross-attention path per
modality pair) and the Feature Fusion Module over the pair and unimodal tokens.

A Hub file like its siblings (copied next to the weights by `save_pretrained`): imports only same-folder siblings
and public libraries.
"""

from __future__ import annotations

import torch
from torch import nn

from .configuration_mcihn import MCIHN_MODALITIES, MCIHN_PAIRS, MCIHNConfig
from .functional_mcihn import masked_mean


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


__all__ = ["MCIHNCrossModalGate", "MCIHNFusion"]

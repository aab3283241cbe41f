# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The model's per-branch code as it was before the issue-13 engine (main at 286a0b1, with issue 10's per-modality
masks and "a query without a key keeps its state" rule and issue 12's causal mode): each direction of each
modality's DialogueRNN its own Python loop over the utterances, and each of the six cross-attention branches of an
MCN layer its own call. The oracle of tests/test_speed.py and the "before" path of benchmarks/speed.py (which puts
this folder on sys.path); it imports only torch and the package."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from mcn_cl.modeling.configuration_mcn_cl import MODALITIES
from mcn_cl.modeling.context_encoders_mcn_cl import MCNCLContextEncoder, MCNCLDialogueRNN, _DialogueRNNCell
from mcn_cl.modeling.cross_attention_mcn_cl import MCNCLCrossAttention, MCNCLCrossModalLayer


def reference_cell_forward(
    cell: _DialogueRNNCell, x: torch.Tensor, speaker_ids: torch.Tensor, utterance_mask: torch.Tensor
) -> torch.Tensor:
    """One direction, one step at a time: x [B, N, H], speaker_ids / utterance_mask [B, N] -> [B, N, H]."""
    batch, num_utt, hidden = x.shape
    num_speakers = cell.max_speakers
    rows = torch.arange(batch, device=x.device)
    party = x.new_zeros(batch, num_speakers, hidden)
    global_state = x.new_zeros(batch, hidden)
    emotion = x.new_zeros(batch, hidden)
    history, outputs = [], []
    for t in range(num_utt):
        u, speaker = x[:, t], speaker_ids[:, t]
        valid = utterance_mask[:, t].unsqueeze(-1)
        q_speaker = party[rows, speaker]
        new_global = cell.global_cell(torch.cat([u, q_speaker], dim=-1), global_state)
        if history:
            past = torch.stack(history, dim=1)  # [B, t, H]
            past_valid = utterance_mask[:, :t]
            scores = torch.einsum("bh,bth->bt", cell.attention(u), past)
            scores = scores.masked_fill(~past_valid, torch.finfo(scores.dtype).min)
            weights = torch.softmax(scores, dim=-1) * past_valid.any(-1, keepdim=True)
            context = torch.einsum("bt,bth->bh", weights, past)
        else:
            context = torch.zeros_like(u)
        new_party = cell.party_cell(torch.cat([u, context], dim=-1), q_speaker)
        new_emotion = cell.emotion_cell(new_party, emotion)
        global_state = torch.where(valid, new_global, global_state)
        emotion = torch.where(valid, new_emotion, emotion)
        update = F.one_hot(speaker, num_speakers).to(torch.bool).unsqueeze(-1) & valid.unsqueeze(1)
        party = torch.where(update, new_party.unsqueeze(1), party)
        history.append(global_state)
        outputs.append(emotion)
    return torch.stack(outputs, dim=1) if outputs else x.new_zeros(batch, 0, hidden)


def reference_dialogue_rnn_forward(
    rnn: MCNCLDialogueRNN, x: torch.Tensor, speaker_ids: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """The directions one after the other (one with `config.causal`); the backward one over the flipped row."""
    states = [reference_cell_forward(rnn.directions[0], x, speaker_ids, mask)]
    if len(rnn.directions) > 1:
        backward = reference_cell_forward(rnn.directions[1], x.flip(1), speaker_ids.flip(1), mask.flip(1))
        states.append(backward.flip(1))
    return rnn.norm(x + rnn.output(rnn.dropout(torch.cat(states, dim=-1))))


def reference_cross_attention_forward(
    attention: MCNCLCrossAttention, hidden: torch.Tensor, key_value: torch.Tensor, key_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One branch: hidden [B, n, H] (the last n of the m utterances), key_value [B, m, H], key_mask [B, m] ->
    update [B, n, H], probs [B, heads, n, m], has_key [B, n]."""
    batch, num_queries, _ = hidden.shape
    num_keys = key_value.shape[1]

    def heads(x: torch.Tensor) -> torch.Tensor:
        return x.view(batch, -1, attention.num_heads, attention.head_dim).transpose(1, 2)

    allowed = key_mask.unsqueeze(1)  # [B, 1, m]
    if attention.causal:
        query_position = torch.arange(num_keys - num_queries, num_keys, device=hidden.device).unsqueeze(-1)
        allowed = allowed & (torch.arange(num_keys, device=hidden.device) <= query_position)  # [B, n, m]
    has_key = allowed.any(-1).expand(batch, num_queries)
    q = heads(attention.query(hidden))
    k, v = heads(attention.key(key_value)), heads(attention.value(key_value))
    scores = q @ k.transpose(-1, -2) / math.sqrt(attention.head_dim)
    scores = scores.masked_fill(~allowed.unsqueeze(1), torch.finfo(scores.dtype).min)
    probs = torch.softmax(scores, dim=-1) * has_key[:, None, :, None].to(scores.dtype)
    context = (attention.dropout(probs) @ v).transpose(1, 2).reshape(batch, num_queries, -1)
    return attention.output(context), probs, has_key


def reference_cross_modal_layer_forward(
    layer: MCNCLCrossModalLayer, queries: torch.Tensor, keys: torch.Tensor, key_masks: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One MCN layer, branch by branch: queries [B, n, 3, H], keys [B, m, 3, H], key_masks [B, m, 3]. A query
    without any allowed key keeps its state (no Add & Norm)."""
    batch, num_queries, _, hidden = queries.shape
    num_keys = keys.shape[1]
    present = key_masks.flatten(0, 1).any(0).tolist()
    outputs, probs_all = [], []
    for index, q in enumerate(MODALITIES):
        state = queries[:, :, index]
        for k in layer.query_order[q]:
            name, key_index = f"{q}_{k}", MODALITIES.index(k)
            if present[index] and present[key_index]:
                update, probs, has_key = reference_cross_attention_forward(
                    layer.attention[name], state, keys[:, :, key_index], key_masks[:, :, key_index]
                )
                normed = layer.attention_norm[name](state + layer.dropout(update))
                state = torch.where(has_key.unsqueeze(-1), normed, state)
            else:
                probs = state.new_zeros(batch, layer.attention[name].num_heads, num_queries, num_keys)
            probs_all.append(probs)
        if present[index]:
            state = layer.ffn_norm[q](state + layer.dropout(layer.ffn[q](state)))
        outputs.append(state)
    return torch.stack(outputs, dim=2), torch.stack(probs_all, dim=1)


def _encode_one_by_one(encoders, inputs, speaker_ids, masks):
    return [encoder(x, speaker_ids, mask) for encoder, x, mask in zip(encoders, inputs, masks)]


@contextlib.contextmanager
def pre_grouping_model() -> Iterator[None]:
    """Within the block, models run the per-branch code of before issue 13."""
    patches = {
        (MCNCLDialogueRNN, "forward"): reference_dialogue_rnn_forward,
        (MCNCLContextEncoder, "encode_all"): staticmethod(_encode_one_by_one),
        (MCNCLCrossModalLayer, "forward"): reference_cross_modal_layer_forward,
    }
    saved = {key: key[0].__dict__[key[1]] for key in patches}
    for (cls, name), value in patches.items():
        setattr(cls, name, value)
    try:
        yield
    finally:
        for (cls, name), value in saved.items():
            setattr(cls, name, value)

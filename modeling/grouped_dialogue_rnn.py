# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Several DialogueRNN recurrences (modalities x directions) run as one loop over the utterances.

Every recurrence of MCN-CL's context encoders has the same shape: per step t, a global GRU, an attention over the
past global states, a party GRU and an emotion GRU, all on [B, H] rows. Run one after the other, each step of each
recurrence is a handful of tiny kernels; here the G recurrences advance together and every matrix product is one
batched matmul over the group (weights stacked at forward time, so the modules' parameters and state-dict keys are
unchanged). The parts of the GRU inputs that depend on u_t only, and the attention queries, are computed for all t
at once before the loop; the past global states live in a fixed-size [G, B, N, H] buffer (no re-stacking of the
history at every step).

This file travels to the Hub next to `modeling_mcn_cl.py`: it imports only public libraries.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _block_diagonal(top: torch.Tensor, bottom: torch.Tensor) -> torch.Tensor:
    """[G, a, m], [G, b, n] -> [G, a + b, m + n] with `top` and `bottom` on the diagonal, zeros elsewhere."""
    g, a, m = top.shape
    b, n = bottom.shape[1:]
    return torch.cat(
        [torch.cat([top, top.new_zeros(g, a, n)], 2), torch.cat([bottom.new_zeros(g, b, m), bottom], 2)], 1
    )


def _gru_update(gi: torch.Tensor, gh: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """`nn.GRUCell`'s update from its input and hidden projections (biases included), gates in (r, z, n) order:
    gi, gh [..., 3H], h [..., H] -> h' [..., H]."""
    hidden = h.shape[-1]
    r, z = torch.sigmoid(gi[..., : 2 * hidden] + gh[..., : 2 * hidden]).chunk(2, dim=-1)
    n = torch.tanh(gi[..., 2 * hidden :] + r * gh[..., 2 * hidden :])
    return n + z * (h - n)  # = (1 - z) * n + z * h


def grouped_dialogue_rnn(
    x: torch.Tensor, speaker_ids: torch.Tensor, step_mask: torch.Tensor, cells: Sequence[nn.Module]
) -> torch.Tensor:
    """Run G DialogueRNN cells, each over its own sequence, as one loop over the N utterances.

    Each cell has `global_cell`, `party_cell` (`nn.GRUCell(2H, H)`), `emotion_cell` (`nn.GRUCell(H, H)`),
    `attention` (`nn.Linear(H, H, bias=False)`) and `max_speakers`. Group g gives exactly what the sequential cell
    computes on `(x[g], speaker_ids[g], step_mask[g])`: per step t, g_t = GRU_G([u_t; q_s], g_{t-1}); c_t =
    softmax attention of W_a u_t over the global states of the earlier *unmasked* steps (0 when there is none);
    q_s = GRU_P([u_t; c_t], q_s); e_t = GRU_E(q_s, e_{t-1}). A masked step leaves every state unchanged (any mask
    pattern, not only padding at the end) and is never attended to.

    Args:
        x: [G, B, N, H] utterance features of each group.
        speaker_ids: [G, B, N] or [B, N] (shared by the groups) speaker index in `[0, max_speakers)`.
        step_mask: [G, B, N] (or [B, N]) bool, false = masked step.
        cells: the G cells, in group order.

    Returns:
        [G, B, N, H]: the emotion state e_t after each step (unchanged through masked steps; 0 before the first
        unmasked one).
    """
    groups, batch, num_utt, hidden = x.shape
    if len(cells) != groups:
        raise ValueError(f"grouped_dialogue_rnn: {len(cells)} cells for {groups} groups of inputs")
    step_mask = step_mask.bool().expand(groups, batch, num_utt)
    speaker_ids = speaker_ids.long().expand(groups, batch, num_utt)
    num_speakers = cells[0].max_speakers

    def stacked(name: str) -> torch.Tensor:
        """The parameter `name` (e.g. "global_cell.weight_ih") of every cell, stacked over the group."""
        return torch.stack([cell.get_parameter(name) for cell in cells])

    w_global, w_party, w_emotion = (
        stacked(f"{c}.weight_ih") for c in ("global_cell", "party_cell", "emotion_cell")
    )
    u_global, u_party = w_global[:, :, :hidden], w_party[:, :, :hidden]  # [G, 3H, H]: the u_t halves
    # Inputs of the step's three matmuls -> [input projection; hidden projection], one block-diagonal weight each:
    # global [q_s; g] -> [W_q q_s; W_hh g], party [c_t; q_s] -> [W_c c_t; W_hh q_s], emotion [q_s'; e].
    step_global = _block_diagonal(w_global[:, :, hidden:].mT, stacked("global_cell.weight_hh").mT)
    step_party = _block_diagonal(w_party[:, :, hidden:].mT, stacked("party_cell.weight_hh").mT)
    step_emotion = _block_diagonal(w_emotion.mT, stacked("emotion_cell.weight_hh").mT)
    bias_global = torch.cat([stacked("global_cell.bias_ih"), stacked("global_cell.bias_hh")], -1).unsqueeze(1)
    bias_party = torch.cat([stacked("party_cell.bias_ih"), stacked("party_cell.bias_hh")], -1).unsqueeze(1)
    bias_emotion = torch.cat(
        [stacked("emotion_cell.bias_ih"), stacked("emotion_cell.bias_hh")], -1
    ).unsqueeze(1)

    # Hoisted out of the loop, for all t at once: the u_t parts of the global and party GRU inputs and the
    # attention queries W_a u_t; the [G, B, N] -> per-step masks.
    flat = x.reshape(groups, batch * num_utt, hidden)
    u_in_global = torch.bmm(flat, u_global.mT).view(groups, batch, num_utt, -1).unbind(2)
    u_in_party = torch.bmm(flat, u_party.mT).view(groups, batch, num_utt, -1).unbind(2)
    queries = (
        torch.bmm(flat, stacked("attention.weight").mT).view(groups, batch, num_utt, 1, hidden).unbind(2)
    )
    steps = torch.arange(num_utt, device=x.device)
    # attend[g, b, t, s]: step s is an unmasked step before t; empty rows get a zero context
    attend = step_mask.unsqueeze(2) & (steps.view(1, -1) < steps.view(-1, 1))
    blocked = (~attend).unsqueeze(3).unbind(2)  # per t: [G, B, 1, N]
    has_past = attend.any(-1, keepdim=True).to(x.dtype).unsqueeze(-1).unbind(2)  # per t: [G, B, 1, 1]
    valid = step_mask.unsqueeze(-1).unbind(2)  # per t: [G, B, 1]
    speaker_index = speaker_ids.view(groups, batch, num_utt, 1, 1).expand(-1, -1, -1, 1, hidden).unbind(2)
    party_update = (
        (nn.functional.one_hot(speaker_ids, num_speakers).bool() & step_mask.unsqueeze(-1))
        .unsqueeze(-1)
        .unbind(2)
    )
    slot = (steps.view(-1, 1) == steps).view(num_utt, 1, 1, num_utt, 1).unbind(0)  # per t: [1, 1, N, 1]

    party = x.new_zeros(groups, batch, num_speakers, hidden)
    global_state = x.new_zeros(groups, batch, hidden)
    emotion = x.new_zeros(groups, batch, hidden)
    history = x.new_zeros(groups, batch, num_utt, hidden)  # g after each step; rows >= t are never attended
    outputs = []
    for t in range(num_utt):
        q_speaker = party.gather(2, speaker_index[t]).squeeze(2)  # [G, B, H]
        projected = torch.baddbmm(bias_global, torch.cat([q_speaker, global_state], -1), step_global)
        new_global = _gru_update(
            u_in_global[t] + projected[..., : 3 * hidden], projected[..., 3 * hidden :], global_state
        )
        scores = torch.matmul(queries[t], history.mT)  # [G, B, 1, N]
        scores = scores.masked_fill(blocked[t], torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1) * has_past[t]
        context = torch.matmul(weights, history).squeeze(2)  # [G, B, H]
        projected = torch.baddbmm(bias_party, torch.cat([context, q_speaker], -1), step_party)
        new_party = _gru_update(
            u_in_party[t] + projected[..., : 3 * hidden], projected[..., 3 * hidden :], q_speaker
        )
        projected = torch.baddbmm(bias_emotion, torch.cat([new_party, emotion], -1), step_emotion)
        new_emotion = _gru_update(projected[..., : 3 * hidden], projected[..., 3 * hidden :], emotion)
        global_state = torch.where(valid[t], new_global, global_state)
        emotion = torch.where(valid[t], new_emotion, emotion)
        party = torch.where(party_update[t], new_party.unsqueeze(2), party)
        # out of place: an in-place write would change a tensor the attention above saved for backward
        history = torch.where(slot[t], global_state.unsqueeze(2), history)
        outputs.append(emotion)
    if not outputs:
        return x.new_zeros(groups, batch, 0, hidden)
    return torch.stack(outputs, dim=2)


__all__ = ["grouped_dialogue_rnn"]

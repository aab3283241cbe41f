# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Several DialogueRNN recurrences (modalities x directions) run as one loop over the utterances.

Every recurrence of MCN-CL's context encoders has the same shape: per step t, a global GRU, an attention over the
past global states, a party GRU and an emotion GRU, all on [B, H] rows. Run one after the other, each step of each
recurrence is a handful of tiny kernels; here the G recurrences advance together and every matrix product is one
batched matmul over the group (weights stacked at forward time, so the modules' parameters and state-dict keys are
unchanged). The parts of the GRU inputs that depend on u_t only, and the attention queries, are computed for all t
at once before the loop; the past global states live in a fixed-size [G * B, N, H] buffer written in place, one
slot per step, each step attending to the slots before it only, and their gradients are gathered in place too
(`_History`: no re-stacking and no copy of the history per step); the weight gradients of the per-step products are
computed once after the loop's backward (`_DeferredWeightGradients`).

This file travels to the Hub next to `modeling_mcn_cl.py`: it imports only public libraries.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _stacked_gru(cells: Sequence[nn.Module], name: str) -> tuple[torch.Tensor, ...]:
    """The `nn.GRUCell` `name` of every cell, stacked for batched matmuls (transposed views, no copy beyond the
    stack): weight_ih [G, In, 3H], weight_hh [G, H, 3H], bias_ih and bias_hh [G, 1, 3H]; gates in (r, z, n) order."""
    modules = [cell.get_submodule(name) for cell in cells]
    return (
        torch.stack([m.weight_ih for m in modules]).mT,
        torch.stack([m.weight_hh for m in modules]).mT,
        torch.stack([m.bias_ih for m in modules]).unsqueeze(1),
        torch.stack([m.bias_hh for m in modules]).unsqueeze(1),
    )


def _gru_update(gi: torch.Tensor, gh: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """`nn.GRUCell`'s new state from its input and hidden projections (biases included) gi, gh [G, B, 3H] and the
    state h [G, B, H]: r, z = sigmoid(gi_rz + gh_rz), n = tanh(gi_n + r * gh_n), h' = (1 - z) * n + z * h."""
    hidden = h.shape[-1]
    gi_rz, gi_n = gi.split([2 * hidden, hidden], dim=-1)
    gh_rz, gh_n = gh.split([2 * hidden, hidden], dim=-1)
    r, z = torch.sigmoid(gi_rz + gh_rz).chunk(2, dim=-1)
    n = torch.tanh(torch.addcmul(gi_n, r, gh_n))
    if h.dtype != n.dtype:  # autocast: the matmuls ran in lower precision, the states are kept in x's dtype
        h = h.to(n.dtype)
    return torch.lerp(n, h, z)


class _DeferredWeightGradients:
    """Per-step products `step_in_t @ W` whose weight gradient is computed once for all steps.

    Left to autograd, each of the N steps of the loop would produce its own [G, In, Out] weight gradient from B rows
    and add it to the running sum: N outer products and N accumulations of the whole weight, memory-bound on a CPU.
    Here the steps multiply by the *detached* weights (their backward computes input gradients only), a hook keeps
    each step's output gradient, and `tie`'s backward, which autograd runs after every step's (all steps depend on
    its output), computes the weight gradients as one [G, In, N * B] @ [G, N * B, Out] product per weight.
    Not twice differentiable (no `create_graph` through the recurrence)."""

    def __init__(self, weights: Sequence[torch.Tensor]):
        self.weights = list(weights)
        # Deferred only in eager autograd: without gradients there is nothing to defer, and under torch.compile
        # the plain products trace into one graph (hooks would break it at every step).
        self.defer = (
            torch.is_grad_enabled()
            and any(w.requires_grad for w in self.weights)
            and not torch.compiler.is_compiling()
        )
        self.detached = [w.detach() for w in self.weights]
        self.inputs: list[list[torch.Tensor]] = [[] for _ in self.weights]
        self.grads: list[dict[int, torch.Tensor]] = [{} for _ in self.weights]

    def tie(self, x: torch.Tensor) -> torch.Tensor:
        """x as the root of the recurrence: apply before anything of the loop is computed from x."""
        return _TieWeightGradients.apply(self, x, *self.weights) if self.defer else x

    def baddbmm(self, index: int, bias: torch.Tensor, step_in: torch.Tensor) -> torch.Tensor:
        """`torch.baddbmm(bias, step_in, weights[index])`: [G, 1 or B, out], [G, B, in] -> [G, B, out]."""
        if not self.defer:
            return torch.baddbmm(bias, step_in, self.weights[index])
        out = torch.baddbmm(bias, step_in, self.detached[index])
        if not out.requires_grad:  # cannot carry a hook: let autograd handle this step's weight gradient
            return torch.baddbmm(bias, step_in, self.weights[index])
        step = len(self.inputs[index])
        self.inputs[index].append(step_in.detach())
        out.register_hook(lambda grad: self.grads[index].__setitem__(step, grad))
        return out

    def weight_gradient(self, index: int) -> torch.Tensor | None:
        grads = self.grads[index]
        if not grads:
            return None
        steps = sorted(grads)
        inputs = torch.cat([self.inputs[index][t] for t in steps], 1)  # [G, steps * B, In]
        outputs = torch.cat([grads[t] for t in steps], 1)
        grads.clear()
        return torch.bmm(inputs.mT, outputs.to(inputs.dtype)).to(self.weights[index].dtype)


class _TieWeightGradients(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, deferred: _DeferredWeightGradients, x: torch.Tensor, *weights: torch.Tensor
    ) -> torch.Tensor:
        ctx.deferred = deferred
        return x.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        deferred = ctx.deferred
        weights = [
            deferred.weight_gradient(i) if ctx.needs_input_grad[2 + i] else None
            for i in range(len(deferred.weights))
        ]
        return None, grad, *weights


class _History:
    """The global states after each step, [R, N, H] (R = G * B rows), written in place one slot per step, and the
    attention of a step over the slots before it.

    Autograd never sees the buffer: `record` (`_RecordGlobalState`) writes step t's state into slot t and passes
    the state on; `attend` (`_AttendToPast`) reads slots < t, which never change after they are written, and its
    backward adds the gradients of those slots into `grads` in place; `record`'s backward adds slot t's gathered
    gradient to the state's. Autograd runs it after the backward of every later step's attention, because each
    `attend` takes the previous step's recorded state as an (ordering only) input. Without autograd tracking (no
    gradients, or under `torch.compile`, where the engine keeps the out-of-place buffer) nothing is saved."""

    def __init__(self, reference: torch.Tensor, num_utt: int):
        rows, hidden = reference.shape[0] * reference.shape[1], reference.shape[-1]
        self.states = reference.new_zeros(rows, num_utt, hidden)
        self.grads: torch.Tensor | None = None

    def record(self, t: int, state: torch.Tensor) -> torch.Tensor:
        """Write `state` [G, B, H] into slot t; returns it (as the node later steps are ordered after)."""
        return _RecordGlobalState.apply(self, t, state)

    def attend(
        self,
        t: int,
        query: torch.Tensor,
        blocked: torch.Tensor,
        has_past: torch.Tensor,
        previous: torch.Tensor,
    ) -> torch.Tensor:
        """Softmax attention of `query` [R, 1, H] over slots < t where `blocked` [R, 1, >= t] is false, times
        `has_past` [R, 1, 1]: the context [R, 1, H]. `previous` is `record`'s output of step t - 1."""
        return _AttendToPast.apply(self, t, query, blocked[..., :t], has_past, previous)

    def add_grads(self, t: int, grads: torch.Tensor) -> None:
        if self.grads is None:
            self.grads = torch.zeros_like(self.states)
        self.grads[:, :t].add_(grads.to(self.grads.dtype))


class _RecordGlobalState(torch.autograd.Function):
    @staticmethod
    def forward(ctx, history: _History, t: int, state: torch.Tensor) -> torch.Tensor:
        history.states[:, t].copy_(state.detach().reshape(-1, state.shape[-1]))
        ctx.history, ctx.t = history, t
        return state.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        gathered = ctx.history.grads
        if gathered is not None:
            grad = grad + gathered[:, ctx.t].view(grad.shape).to(grad.dtype)
        return None, None, grad


class _AttendToPast(torch.autograd.Function):
    @staticmethod
    def forward(ctx, history, t, query, blocked, has_past, previous):
        past = history.states[:, :t]
        scores = torch.bmm(query, past.mT)
        scores = scores.masked_fill(blocked, torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, dim=-1)
        context = torch.bmm(probs * has_past, past)
        ctx.save_for_backward(query, probs, blocked, has_past)
        ctx.history, ctx.t = history, t
        return context

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        query, probs, blocked, has_past = ctx.saved_tensors
        dtype = probs.dtype  # under autocast the forward's products ran in lower precision
        past = ctx.history.states[:, : ctx.t].to(dtype)
        grad, has_past = grad.to(dtype), has_past.to(dtype)
        grad_probs = torch.bmm(grad, past.mT) * has_past  # [R, 1, t]
        grad_scores = probs * (grad_probs - (grad_probs * probs).sum(-1, keepdim=True))
        grad_scores = grad_scores.masked_fill(blocked, 0.0)
        grad_query = torch.bmm(grad_scores, past)
        # the slots' gradients: through the context (weights^T grad) and through the scores (scores_grad^T query)
        ctx.history.add_grads(
            ctx.t,
            torch.bmm(
                torch.cat([probs * has_past, grad_scores], 1).mT, torch.cat([grad, query.to(dtype)], 1)
            ),
        )
        return None, None, grad_query.to(query.dtype), None, None, None


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
    if num_utt == 0:
        return x.new_zeros(groups, batch, 0, hidden)
    step_mask = step_mask.bool().expand(groups, batch, num_utt)
    speaker_ids = speaker_ids.long().expand(groups, batch, num_utt)
    num_speakers = cells[0].max_speakers
    rows = groups * batch  # the attention runs over G * B independent rows

    # [G, In, 3H] / [G, H, 3H] weights, [G, 1, 3H] biases. The u_t rows of the global and party GRUs' input
    # weights act on inputs known in advance; the other rows on [q_s] and [c_t] at each step.
    w_global, h_global, b_global, bh_global = _stacked_gru(cells, "global_cell")
    w_party, h_party, b_party, bh_party = _stacked_gru(cells, "party_cell")
    w_emotion, h_emotion, b_emotion, bh_emotion = _stacked_gru(cells, "emotion_cell")
    attention = torch.stack([cell.attention.weight for cell in cells])  # [G, H, H]
    step_weights = [w_global[:, hidden:], h_global, w_party[:, hidden:], h_party, w_emotion, h_emotion]
    deferred = _DeferredWeightGradients(step_weights)
    x = deferred.tie(x)

    # Hoisted out of the loop, for all t at once: the u_t parts of the global and party GRUs (biases included)
    # and the attention queries W_a u_t; the per-step masks.
    flat = x.reshape(groups, batch * num_utt, hidden)
    in_global = torch.baddbmm(b_global, flat, w_global[:, :hidden]).view(groups, batch, num_utt, -1).unbind(2)
    in_party = torch.baddbmm(b_party, flat, w_party[:, :hidden]).view(groups, batch, num_utt, -1).unbind(2)
    queries = torch.bmm(flat, attention.mT).view(rows, num_utt, 1, hidden).unbind(1)  # per t: [G*B, 1, H]
    steps = torch.arange(num_utt, device=x.device)
    # attend[g, b, t, s]: step s is an unmasked step before t; a step with none gets a zero context
    attend = step_mask.unsqueeze(2) & (steps.view(1, -1) < steps.view(-1, 1))
    blocked = (~attend).view(rows, num_utt, 1, num_utt).unbind(1)  # per t: [G*B, 1, N]
    has_past = attend.any(-1).to(x.dtype).view(rows, num_utt, 1, 1).unbind(1)  # per t: [G*B, 1, 1]
    valid = step_mask.unsqueeze(-1).unbind(2)  # per t: [G, B, 1]
    speaker_index = speaker_ids.view(groups, batch, num_utt, 1, 1).expand(-1, -1, -1, 1, hidden).unbind(2)
    one_hot = nn.functional.one_hot(speaker_ids, num_speakers).bool()
    party_update = (one_hot & step_mask.unsqueeze(-1)).unsqueeze(-1).unbind(2)  # per t: [G, B, S, 1]
    slot = (steps.view(-1, 1) == steps).view(num_utt, 1, num_utt, 1).unbind(0)  # per t: [1, N, 1]

    party = x.new_zeros(groups, batch, num_speakers, hidden)
    global_state = x.new_zeros(groups, batch, hidden)
    emotion = x.new_zeros(groups, batch, hidden)
    # g after each step: written in place (`_History`), or out of place under torch.compile
    in_place = not torch.compiler.is_compiling()
    history = _History(x, num_utt) if in_place else x.new_zeros(rows, num_utt, hidden)
    outputs = []
    for t in range(num_utt):
        q_speaker = party.gather(2, speaker_index[t]).squeeze(2)  # [G, B, H]
        gi = deferred.baddbmm(0, in_global[t], q_speaker)  # [u_t; q_s] -> 3H, the u_t part hoisted
        new_global = _gru_update(gi, deferred.baddbmm(1, bh_global, global_state), global_state)
        if t == 0:
            context = torch.zeros_like(global_state)
        elif in_place:
            context = history.attend(t, queries[t], blocked[t], has_past[t], global_state)
        else:  # slots >= t are blocked
            scores = torch.bmm(queries[t], history.mT)  # [G*B, 1, N]
            scores = scores.masked_fill(blocked[t], torch.finfo(scores.dtype).min)
            weights = torch.softmax(scores, dim=-1) * has_past[t]
            context = torch.bmm(weights, history)
        context = context.view(groups, batch, hidden)
        gi = deferred.baddbmm(2, in_party[t], context)  # [u_t; c_t] -> 3H
        new_party = _gru_update(gi, deferred.baddbmm(3, bh_party, q_speaker), q_speaker)
        gi = deferred.baddbmm(4, b_emotion, new_party)
        new_emotion = _gru_update(gi, deferred.baddbmm(5, bh_emotion, emotion), emotion)
        global_state = torch.where(valid[t], new_global, global_state)
        emotion = torch.where(valid[t], new_emotion, emotion)
        party = torch.where(party_update[t], new_party.unsqueeze(2), party)
        if in_place:
            global_state = history.record(t, global_state)
        else:  # out of place: an in-place write would change a tensor the attention above saved for backward
            history = torch.where(slot[t], global_state.view(rows, 1, hidden), history)
        outputs.append(emotion)
    return torch.stack(outputs, dim=2)


__all__ = ["grouped_dialogue_rnn"]

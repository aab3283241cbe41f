# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCN-CL's dialogue context encoders (Sec. 2.2): one per modality, over the utterances of a dialogue.
`config.context_encoder` picks DialogueRNN (speaker-aware; its recurrences run through the grouped engine of
`grouped_dialogue_rnn.py`), a BiGRU, a transformer encoder, or none.

Streaming (causal encoders only): [`MCNCLContextEncoder.stream_step`] advances one utterance per dialogue from a
typed, immutable state (`DialogueRNNStreamState`, `GRUStreamState`, `TransformerStreamState`,
`NoContextStreamState`) and returns the new state; only the encoder writes it.

This file travels to the Hub next to `modeling_mcn_cl.py` (`save_pretrained` copies the relative imports of the
model file): it imports only public libraries and same-folder siblings.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .configuration_mcn_cl import MCNCLConfig
from .grouped_dialogue_rnn import grouped_dialogue_rnn
from .unimodal_encoders_mcn_cl import _zero_absent


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
    documents the step); [`stream_step`] advances one utterance for streaming and computes the same recurrence. Mask
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

    def stream_step(
        self,
        u: torch.Tensor,
        speaker: torch.Tensor,
        valid: torch.Tensor,
        state: _DialogueRNNState,
        past: torch.Tensor | None,
        past_valid: torch.Tensor | None,
    ) -> _DialogueRNNState:
        """One streamed utterance through this recurrence: u [B, H], speaker [B], valid [B] bool; `past` [B, t, H]
        the global states of the earlier utterances and `past_valid` [B, t] which of them are valid (None at
        t = 0). Returns the new state."""
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
    `config.causal` every step sees only itself and the past, and [`stream_step`] advances one utterance at a time."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.kind = config.context_encoder
        self.causal = config.causal
        hidden = config.hidden_size
        self.use_positions = config.utterance_position_encoding in ("sinusoidal", "gated_sinusoidal") and (
            self.kind == "transformer" or (self.kind == "none" and config.use_mcn)
        )
        # "gated_sinusoidal": the positions times a learned scalar, 0 at initialisation (`_init_weights`)
        gated = self.use_positions and config.utterance_position_encoding == "gated_sinusoidal"
        self.position_gate = nn.Parameter(torch.zeros(())) if gated else None
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
        embeddings = _sinusoidal_positions(positions, x.shape[-1], x.dtype)
        if self.position_gate is not None:
            embeddings = self.position_gate.to(x.dtype) * embeddings
        return x + embeddings

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

    def init_stream_state(self) -> ContextStreamState:
        """The streaming state before the first utterance (causal encoders only), advanced by [`stream_step`]."""
        if self.kind == "dialoguernn":
            return DialogueRNNStreamState()
        if self.kind == "bigru":
            return GRUStreamState()
        if self.kind == "transformer":
            return TransformerStreamState(layer_inputs=(None,) * len(self.transformer.layers))
        return NoContextStreamState()

    def stream_step(
        self, x: torch.Tensor, speaker: torch.Tensor, valid: torch.Tensor, state: ContextStreamState
    ) -> tuple[torch.Tensor, ContextStreamState]:
        """One streamed utterance per dialogue through a causal encoder: x [B, H], speaker [B], valid [B] bool and
        the state after the earlier utterances (from [`init_stream_state`] or the previous call). Returns the
        context features [B, H], equal to [`forward`] over all utterances so far at the last position, and the new
        state (`state` itself is left unchanged)."""
        position = state.position
        if self.kind == "none":
            out = self._positions(x.unsqueeze(1), position)[:, 0]
            new_state = NoContextStreamState(position + 1)
        elif self.kind == "dialoguernn":
            cell = self.rnn.directions[0]
            recurrence = state.recurrence if state.recurrence is not None else cell.initial_state(x)
            new = cell.stream_step(x, speaker, valid, recurrence, state.history, state.history_valid)
            out = self.rnn.merge(x, [new.emotion])
            new_state = DialogueRNNStreamState(
                position + 1,
                new,
                _append_utterance(state.history, new.global_state),
                _append_utterance(state.history_valid, valid),
            )
        elif self.kind == "bigru":
            previous = state.hidden
            if previous is None:
                previous = x.new_zeros(1, x.shape[0], self.gru.hidden_size)
            out, hidden = self.gru((x + self.speaker_embeddings(speaker)).unsqueeze(1), previous)
            # a masked step changes nothing
            new_state = GRUStreamState(position + 1, torch.where(valid[None, :, None], hidden, previous))
            out = self.norm(x + out[:, 0])
        else:
            valid_so_far = _append_utterance(state.valid, valid)
            allowed = valid_so_far.clone()
            allowed[:, -1] = True  # the step itself
            out = self._positions((x + self.speaker_embeddings(speaker)).unsqueeze(1), position)
            layer_inputs = []
            for layer, past in zip(self.transformer.layers, state.layer_inputs):
                memory = _append_utterance(past, out[:, 0])
                layer_inputs.append(memory)
                out = self._transformer_layer(layer, out, memory, allowed.unsqueeze(1))
            out = out[:, 0]
            new_state = TransformerStreamState(position + 1, valid_so_far, tuple(layer_inputs))
        return torch.where(valid.unsqueeze(-1), out, 0.0), new_state

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


def _append_utterance(past: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
    """Append one step `new` [B, ...] to `past` [B, t, ...] (None: no step yet) -> [B, t + 1, ...].

    The result is a view of the first t + 1 steps of a buffer with room for more (its capacity doubles when full),
    so a stream's history costs O(1) amortised per step instead of a copy of the whole past (`torch.cat`) and a
    new, ever larger allocation every step (which also fragments the heap: issue 18). The states stay immutable:
    the step is written into the buffer only when `past` ends where the buffer's filled part ends (`past` is the
    newest state); appending to an older state (one restored after later steps) copies it into a new buffer, so
    the later states, which share the old buffer, never change."""
    if past is None:
        return _grow(new.unsqueeze(1), 1, capacity=_INITIAL_CAPACITY)
    steps = past.shape[1]
    buffer = past._base if past._base is not None else past
    if (
        getattr(buffer, "_mcn_filled", None) == steps
        and buffer.shape[1] > steps
        and past.data_ptr() == buffer.data_ptr()
        and past.dtype == new.dtype
        and buffer.shape[0] == past.shape[0]
    ):
        buffer[:, steps] = new
        buffer._mcn_filled = steps + 1
        return buffer[:, : steps + 1]
    return _grow(torch.cat([past, new.unsqueeze(1)], dim=1), steps + 1, capacity=2 * (steps + 1))


_INITIAL_CAPACITY = 16


def _grow(steps: torch.Tensor, filled: int, capacity: int) -> torch.Tensor:
    """`steps` [B, filled, ...] copied into a new buffer [B, capacity, ...]; returns the view of its filled part."""
    buffer = steps.new_zeros(steps.shape[0], max(capacity, filled), *steps.shape[2:])
    buffer[:, :filled] = steps
    buffer._mcn_filled = filled
    return buffer[:, :filled]


# ------------------------------------------------------------------------------- streaming states (causal only)


class NoContextStreamState(NamedTuple):
    """Streaming state of `context_encoder="none"`: the number of utterances seen (for position encodings)."""

    position: int = 0


class DialogueRNNStreamState(NamedTuple):
    """Streaming state of the (forward) DialogueRNN: the utterances seen, the recurrent states (None before the
    first utterance), the global states of the past utterances [B, t, H] and which of them are valid [B, t]."""

    position: int = 0
    recurrence: _DialogueRNNState | None = None
    history: torch.Tensor | None = None
    history_valid: torch.Tensor | None = None


class GRUStreamState(NamedTuple):
    """Streaming state of the (forward) GRU: the utterances seen and its hidden state [1, B, H] (None before the
    first utterance)."""

    position: int = 0
    hidden: torch.Tensor | None = None


class TransformerStreamState(NamedTuple):
    """Streaming state of the causal transformer: the utterances seen, which of them are valid [B, t], and each
    layer's inputs for them [B, t, H] (the keys/values of the next utterance; None before the first)."""

    position: int = 0
    valid: torch.Tensor | None = None
    layer_inputs: tuple[torch.Tensor | None, ...] = ()


ContextStreamState = NoContextStreamState | DialogueRNNStreamState | GRUStreamState | TransformerStreamState

__all__ = [
    "MCNCLDialogueRNN",
    "MCNCLContextEncoder",
    "run_dialogue_rnns",
    "NoContextStreamState",
    "DialogueRNNStreamState",
    "GRUStreamState",
    "TransformerStreamState",
    "ContextStreamState",
]

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Online inference with a causal MCN-CL: [`MCNCLStream`] and its cache, [`MCNCLStreamState`].

Words used for streaming, everywhere in this folder:
- `MCNCLStream.step(**inputs)`: the public call, one new utterance for each dialogue of the stream.
- `stream_step`: the same, one level down: `MCNCLModel._stream_step` / `MCNCLForEmotionRecognition._stream_step`
  (the whole model), `MCNCLContextEncoder.stream_step` (one modality's context encoder) and
  `_DialogueRNNCell.stream_step` (one DialogueRNN recurrence). Each takes the state after the earlier utterances
  and returns the new one; none of them changes its input state.
- "step" alone, in the recurrences' docstrings, is one utterance of the loop over a dialogue.

The state is immutable (NamedTuples all the way down): [`MCNCLStream.step`] is the only place that stores a new
one.

This file travels to the Hub next to `modeling_mcn_cl.py` (`save_pretrained` copies the relative imports of the
model file): it imports only public libraries and same-folder siblings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch

from .configuration_mcn_cl import MODALITIES
from .context_encoders_mcn_cl import ContextStreamState

if TYPE_CHECKING:
    from .modeling_mcn_cl import MCNCLForEmotionRecognition, MCNCLModel, MCNCLModelOutput, MCNCLOutput


class MCNCLStreamState(NamedTuple):
    """What a stream caches after `num_utterances` utterances of each of its `batch_size` dialogues.

    Attributes:
        batch_size: the number of dialogues streamed together.
        num_utterances: the utterances seen per dialogue (the steps taken).
        context: the context encoders' states, one per modality in `MODALITIES` order (text, audio, visual).
        modality_masks: [B, num_utterances, 3] the effective modality masks of the past utterances (the MCN keys'
            masks); None before the first utterance.
        layer_inputs: per MCN layer, its inputs for the past utterances [B, num_utterances, 3, H] (the keys/values:
            layer 0's are the context features; the others' are kept with `kv_source="previous_layer"` only, else
            None).
    """

    batch_size: int
    num_utterances: int
    context: tuple[ContextStreamState, ...]
    modality_masks: torch.Tensor | None
    layer_inputs: tuple[torch.Tensor | None, ...]

    @classmethod
    def initial(cls, model: MCNCLModel, batch_size: int) -> MCNCLStreamState:
        """The state of `model` (the base [`MCNCLModel`]) before the first utterance."""
        return cls(
            batch_size=batch_size,
            num_utterances=0,
            context=tuple(model.context_encoders[m].init_stream_state() for m in MODALITIES),
            modality_masks=None,
            layer_inputs=(None,) * len(model.layers),
        )


class MCNCLStream:
    """Online inference with a causal MCN-CL (`config.causal=True`): one utterance per dialogue at a time, each
    prediction from the utterances so far only.

    The stream caches ([`MCNCLStreamState`], in `stream.state`), for each modality, the context encoder's state
    (DialogueRNN global / party / emotion states and the past global states; GRU hidden state; the transformer's
    past layer inputs), the modality masks of the past utterances and the MCN keys/values (the context features,
    and with `kv_source="previous_layer"` every layer's past inputs), so a step costs one utterance, not a re-run
    of the dialogue. Streaming N utterances gives the logits of the model's forward over the N utterances (up to
    float rounding). The state is immutable: `step` stores a new one, so a saved `stream.state` can be restored.

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
        self.reset()

    def reset(self) -> None:
        """Forget every utterance seen: the next step starts new dialogues."""
        # the base MCNCLModel: the model itself, or the `mcn_cl` of the emotion model (`base_model_prefix`)
        self.state = MCNCLStreamState.initial(self.model.base_model, self.batch_size)

    @property
    def num_steps(self) -> int:
        """The utterances seen per dialogue since the start (or the last [`reset`])."""
        return self.state.num_utterances

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
        out, self.state = self.model._stream_step(
            self.state, **{k: v for k, v in inputs.items() if k in _STREAM_INPUTS}
        )
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

__all__ = ["MCNCLStream", "MCNCLStreamState"]

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The outputs of the MCN-CL models ([`MCNCLModel`] and [`MCNCLForEmotionRecognition`]), as `ModelOutput`s.

A Hub file like its siblings: imports only public libraries.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


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


__all__ = ["MCNCLModelOutput", "MCNCLOutput"]

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The outputs of the MCIHN models ([`MCIHNModel`] and [`MCIHNForMultimodalSentiment`]), as `ModelOutput`s.

A Hub file like its siblings (copied next to the weights by `save_pretrained`): imports only same-folder siblings
and public libraries.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


@dataclass
class MCIHNModelOutput(ModelOutput):
    r"""
    Output of [`MCIHNModel`].

    Args:
        reconstruction_loss (`torch.FloatTensor` of shape `()`):
            L_AE: mean squared error between each modality's (standardised) input frames and their
            reconstruction, averaged over the valid frames and the modalities present.
        adversarial_loss (`torch.FloatTensor` of shape `()`):
            The encoders' (generator's) term: -log D(S) over the valid codes, averaged over the modalities. Its
            gradient reaches the encoders only (the discriminators' weights are detached in it).
        discriminator_loss (`torch.FloatTensor` of shape `()`):
            The discriminators' term: BCE of prior samples N(0, I) (real) against the codes (fake, detached), so its
            gradient reaches the discriminators only.
        mmd_loss (`torch.FloatTensor` of shape `()`):
            The CGMM objective: MMD between the pooled codes of the two modalities of each path, averaged over the
            paths with both modalities in at least two utterances (0 otherwise).
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 6, hidden_size)`):
            The FFM output for the tokens [h_ta, h_tv, h_av, u_t, u_a, u_v].
        pooled_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
            Mean of the valid FFM tokens.
        token_mask (`torch.BoolTensor` of shape `(batch_size, 6)`):
            Which FFM tokens are valid (their modalities are present).
        text_codes / audio_codes / visual_codes (`torch.FloatTensor` of shape `(batch_size, frames, latent_size)`):
            The autoencoders' codes S (zeros on padding); `None` for a modality absent from the batch.
        text_code_mask / audio_code_mask / visual_code_mask (`torch.BoolTensor` of shape `(batch_size, frames)`):
            The valid frames of each modality's codes.
        modality_mask (`torch.BoolTensor` of shape `(batch_size, 3)`):
            Modality (text, audio, visual) present for the utterance.
    """

    reconstruction_loss: torch.FloatTensor | None = None
    adversarial_loss: torch.FloatTensor | None = None
    discriminator_loss: torch.FloatTensor | None = None
    mmd_loss: torch.FloatTensor | None = None
    last_hidden_state: torch.FloatTensor | None = None
    pooled_output: torch.FloatTensor | None = None
    token_mask: torch.BoolTensor | None = None
    text_codes: torch.FloatTensor | None = None
    audio_codes: torch.FloatTensor | None = None
    visual_codes: torch.FloatTensor | None = None
    text_code_mask: torch.BoolTensor | None = None
    audio_code_mask: torch.BoolTensor | None = None
    visual_code_mask: torch.BoolTensor | None = None
    modality_mask: torch.BoolTensor | None = None


@dataclass
class MCIHNSentimentOutput(ModelOutput):
    r"""
    Output of [`MCIHNForMultimodalSentiment`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` are given):
            The task loss only (L1 / MSE for regression, cross-entropy for classification). The auxiliary terms
            below are weighted and added by the trainer ([`MCIHNTrainer`]), which also steps the discriminators.
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Regression: the sentiment score (`num_labels=1`); classification: class scores before softmax.
        reconstruction_loss, adversarial_loss, discriminator_loss, mmd_loss, pooled_output, codes, masks:
            see [`MCIHNModelOutput`].
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    reconstruction_loss: torch.FloatTensor | None = None
    adversarial_loss: torch.FloatTensor | None = None
    discriminator_loss: torch.FloatTensor | None = None
    mmd_loss: torch.FloatTensor | None = None
    pooled_output: torch.FloatTensor | None = None
    text_codes: torch.FloatTensor | None = None
    audio_codes: torch.FloatTensor | None = None
    visual_codes: torch.FloatTensor | None = None
    text_code_mask: torch.BoolTensor | None = None
    audio_code_mask: torch.BoolTensor | None = None
    visual_code_mask: torch.BoolTensor | None = None
    modality_mask: torch.BoolTensor | None = None


__all__ = ["MCIHNModelOutput", "MCIHNSentimentOutput"]

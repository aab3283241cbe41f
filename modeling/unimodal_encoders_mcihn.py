# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCIHN's feature extraction: one tower per modality turning an utterance into a frame sequence (text tokens,
speech frames, face-video frames), or precomputed sequences passed through.

A Hub file like its siblings (copied next to the weights by `save_pretrained`): imports only same-folder siblings
and public libraries.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel

from .configuration_mcihn import MCIHNConfig


class MCIHNTextEncoder(nn.Module):
    """Text: `AutoModel.from_config(config.text_config)` (BERT by default) -> token states [B, T, D_t]; or the
    precomputed `text_features` sequences as given."""

    def __init__(self, config: MCIHNConfig):
        super().__init__()
        self.encoder = AutoModel.from_config(config.text_config) if config.use_text_encoder else None
        if self.encoder is not None and config.freeze_text_encoder:
            self.encoder.requires_grad_(False)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.encoder is None:
            raise ValueError(
                "input_ids were given but this model has no text tower (config.use_text_encoder=False); "
                "pass text_features instead."
            )
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return states, attention_mask.bool()


class MCIHNAudioEncoder(nn.Module):
    """Speech: a Wav2Vec2 tower built from `config.audio_config` (frozen by default) on raw 16 kHz waveforms ->
    frame states [B, T', D_a] with their mask.

    A group-norm feature encoder (`feat_extract_norm="group"`, e.g. wav2vec2-base) normalises its first convolution
    over the whole padded waveform, so its output depends on the padding: such a tower runs on each utterance's
    unpadded waveform (the result does not depend on the batch). A waveform shorter than the convolutions' receptive
    field (25 ms for wav2vec2-base) gives no frame: its frames are all masked (and so is the modality)."""

    def __init__(self, config: MCIHNConfig):
        super().__init__()
        self.encoder = AutoModel.from_config(config.audio_config)
        self.frozen = config.freeze_audio_encoder
        self.per_utterance = getattr(config.audio_config, "feat_extract_norm", "layer") == "group"
        if self.frozen:
            self.encoder.requires_grad_(False)

    def _run(self, values: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        return self.encoder(values, attention_mask=attention_mask).last_hidden_state

    def forward(
        self, input_values: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch, samples = input_values.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_values, dtype=torch.long)
        lengths = attention_mask.long().sum(-1)
        frames = self.encoder._get_feat_extract_output_lengths(lengths).clamp(min=0)
        size = self.encoder.config.hidden_size
        dtype = next(self.encoder.parameters()).dtype
        if self.frozen:
            self.encoder.eval()
        with torch.set_grad_enabled(not self.frozen and torch.is_grad_enabled()):
            usable = (frames > 0).nonzero().flatten().tolist()
            longest = int(frames.max()) if usable else 0
            states = input_values.new_zeros(batch, max(longest, 1), size, dtype=dtype)
            if self.per_utterance:
                rows = [self._run(input_values[b : b + 1, : int(lengths[b])], None)[0] for b in usable]
            elif usable:
                keep = torch.tensor(usable, device=input_values.device)
                width = int(lengths[keep].max())
                out = self._run(input_values[keep, :width], attention_mask[keep, :width])
                rows = [out[i, : int(frames[b])] for i, b in enumerate(usable)]
            else:
                rows = []
            for b, row in zip(usable, rows):
                states[b, : row.shape[0]] = row[: int(frames[b])]
        mask = torch.arange(states.shape[1], device=states.device) < frames.unsqueeze(1)
        return states, mask


class MCIHNVisualEncoder(nn.Module):
    """Face video: a vision tower built from `config.visual_config` (a CLIP vision model or a ResNet; frozen by
    default), its pooled output per frame -> [B, L, D_v]."""

    def __init__(self, config: MCIHNConfig):
        super().__init__()
        self.encoder = AutoModel.from_config(config.visual_config)
        self.frozen = config.freeze_visual_encoder
        if self.frozen:
            self.encoder.requires_grad_(False)

    def forward(
        self, pixel_values: torch.Tensor, frame_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch, frames = pixel_values.shape[:2]
        if self.frozen:
            self.encoder.eval()
        with torch.set_grad_enabled(not self.frozen and torch.is_grad_enabled()):
            pooled = self.encoder(pixel_values=pixel_values.flatten(0, 1)).pooler_output
        states = pooled.reshape(batch, frames, -1)  # CLIP: [N, D]; ResNet: [N, C, 1, 1]
        if frame_mask is None:
            frame_mask = torch.ones(batch, frames, dtype=torch.bool, device=states.device)
        return states, frame_mask.bool()


__all__ = ["MCIHNTextEncoder", "MCIHNAudioEncoder", "MCIHNVisualEncoder"]

# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""MCIHN's Feature Reconstruction Module: the per-feature input standardisation and one adversarial autoencoder
per modality.

A Hub file like its siblings (copied next to the weights by `save_pretrained`): imports only same-folder siblings
and public libraries.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .configuration_mcihn import MCIHNConfig
from .functional_mcihn import _mlp


class MCIHNInputStandardizer(nn.Module):
    """Per-feature standardisation of a modality's frames, (x - mean) / sqrt(var + eps), with one mean and variance
    per feature dimension estimated on the valid frames of the training batches (buffers: saved with the weights).

    Unlike a per-frame LayerNorm it keeps each frame's scale and offset (a loud and a quiet frame stay different;
    on MOSI's 5-d COVAREP frames a per-frame LayerNorm removes 2 of the 5 degrees of freedom), and unlike batch
    statistics at inference it makes a prediction independent of the rest of its batch. In training mode each
    batch first updates the running statistics (a cumulative average over the first 1 / momentum batches, then an
    exponential average, so that the statistics follow a tower that is being fine-tuned); evaluation uses them as
    stored. A model that never trained has mean 0, variance 1 (identity).
    """

    def __init__(self, size: int, momentum: float = 0.01, eps: float = 1e-5):
        super().__init__()
        self.momentum, self.eps = float(momentum), float(eps)
        self.register_buffer("running_mean", torch.zeros(size))
        self.register_buffer("running_var", torch.ones(size))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, features: torch.Tensor, mask: torch.Tensor) -> None:
        """Fold the valid frames of one training batch into the running statistics."""
        valid = features[mask].float()
        if valid.shape[0] == 0:
            return
        mean, var = valid.mean(0), valid.var(0, unbiased=False)
        rate = max(self.momentum, 1.0 / (int(self.num_batches_tracked) + 1))
        shift = mean - self.running_mean
        self.running_var.mul_(1 - rate).add_(rate * var + rate * (1 - rate) * shift.pow(2))
        self.running_mean.add_(rate * shift)
        self.num_batches_tracked.add_(1)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """features [B, T, D], mask [B, T] -> standardised features (the padding is left to the caller)."""
        if self.training and torch.is_grad_enabled():
            self.update(features.detach(), mask)
        scale = torch.rsqrt(self.running_var + self.eps)
        return (features - self.running_mean.to(features.dtype)) * scale.to(features.dtype)


class MCIHNAdversarialAutoencoder(nn.Module):
    """Adversarial autoencoder of one modality (Makhzani et al.): encoder E maps each (standardised) frame of X to a
    code S, decoder D reconstructs X^ (L_AE = ||X - X^||^2), and a discriminator tells samples of the prior N(0, I)
    from the codes; the encoder is trained to fool it, so that the codes follow the prior."""

    def __init__(self, config: MCIHNConfig, input_size: int):
        super().__init__()
        hidden, latent = config.autoencoder_hidden_size, config.latent_size
        self.input_norm = MCIHNInputStandardizer(
            input_size, config.normalization_momentum, config.layer_norm_eps
        )
        self.encoder = _mlp([input_size, hidden, latent])
        self.decoder = _mlp([latent, hidden, input_size])
        disc = config.discriminator_hidden_size
        self.discriminator = nn.Sequential(
            nn.Linear(latent, disc),
            nn.LeakyReLU(0.2),
            nn.Linear(disc, disc),
            nn.LeakyReLU(0.2),
            nn.Linear(disc, 1),
        )

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features [B, T, D], mask [B, T] -> (codes S [B, T, latent] (0 on padding), L_AE over the valid frames)."""
        x = self.input_norm(features.to(self.encoder[0].weight.dtype), mask)
        x = torch.where(mask.unsqueeze(-1), x, 0.0)
        codes = torch.where(mask.unsqueeze(-1), self.encoder(x), 0.0)
        target = x.detach()  # stop-gradient: a trainable tower must not lower L_AE by collapsing its output
        error = (self.decoder(codes) - target).pow(2).mean(-1)
        reconstruction = (error * mask).sum() / mask.sum().clamp(min=1)
        return codes, reconstruction

    def adversarial_terms(self, codes: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(encoder's term -log D(S), discriminator's BCE(prior = real, codes = fake)) over the valid frames.

        The encoder's term runs the discriminator with detached weights (its gradient reaches the encoder only);
        the discriminator's runs on detached codes (its gradient reaches the discriminator only): one backward of
        their sum trains each side on its own objective, and an alternating trainer can step them separately.
        """
        valid = codes[mask]
        detached = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        fooled = torch.func.functional_call(self.discriminator, detached, (valid,))
        generator = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
        real = self.discriminator(torch.randn_like(valid))
        fake = self.discriminator(valid.detach())
        discriminator = 0.5 * (
            F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        )
        return generator, discriminator


__all__ = ["MCIHNInputStandardizer", "MCIHNAdversarialAutoencoder"]

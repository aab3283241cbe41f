# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""Small functions of MCIHN: masked means over frames, the MMD estimate of the CGMM objective, MLP stacks.

A Hub file like its siblings (copied next to the weights by `save_pretrained`): imports only same-folder siblings
and public libraries.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


# Copied from mcn_cl.modeling.unimodal_encoders_mcn_cl._masked_mean
def _masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of `x` over `dim` where `mask` (broadcastable, same rank) is true; 0 where nothing is valid."""
    x = torch.where(mask.bool(), x, 0.0)
    return x.sum(dim) / mask.to(x.dtype).sum(dim).clamp(min=1.0)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `x` [B, T, D] over the frames where `mask` [B, T] is true: [B, D] (0 where none is)."""
    return _masked_mean(x, mask.unsqueeze(-1), dim=1)


def mmd_rbf(x: torch.Tensor, y: torch.Tensor, scales: Sequence[float] = (0.5, 1.0, 2.0, 4.0)) -> torch.Tensor:
    """Maximum mean discrepancy (biased V-statistic) between samples `x` [M, d] and `y` [K, d] with a sum of Gaussian
    kernels k(a, b) = sum_s exp(-||a - b||^2 / (s * d)). 0 for identical samples; larger when the distributions
    differ. Used for the CGMM objective and to measure how far codes are from the prior N(0, I)."""
    dim = x.shape[-1]
    xy = torch.cat([x, y]).float()
    distances = torch.cdist(xy, xy).pow(2)
    kernel = sum(torch.exp(-distances / (s * dim)) for s in scales)
    m = x.shape[0]
    return kernel[:m, :m].mean() + kernel[m:, m:].mean() - 2 * kernel[:m, m:].mean()


def _mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.GELU) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


__all__ = ["masked_mean", "mmd_rbf"]

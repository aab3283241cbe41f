# Copyright 2026 The mcn-cl authors. Licensed under the Apache License, Version 2.0.
"""The heads of MCN-CL on the fused utterance representations: the per-modality contrastive projection (eqs.
15-23) and the emotion classifier (eqs. 28-31). Equation numbers refer to the paper.

A Hub file like its siblings: imports only same-folder siblings and public libraries.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .configuration_mcn_cl import MCNCLConfig


class MCNCLProjectionHead(nn.Module):
    """Contrastive projection of one modality (eqs. 15-23): fc1, ReLU, fc2, L2 normalisation."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.hidden_size)
        self.fc2 = nn.Linear(config.hidden_size, config.projection_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.fc2(F.relu(self.fc1(hidden))), dim=-1)


class MCNCLClassifier(nn.Module):
    """Emotion classifier (eqs. 28-31): [f_text; f_audio; f_visual] -> FC -> 2-layer MLP with ReLU -> Linear."""

    def __init__(self, config: MCNCLConfig):
        super().__init__()
        size = config.classifier_hidden_size
        self.fc = nn.Linear(3 * config.hidden_size, size)  # eq. 29
        self.mlp = nn.Sequential(  # eq. 30
            nn.ReLU(),
            nn.Dropout(config.hidden_dropout_prob),
            nn.Linear(size, size),
            nn.ReLU(),
            nn.Dropout(config.hidden_dropout_prob),
            nn.Linear(size, size),
            nn.ReLU(),
            nn.Dropout(config.hidden_dropout_prob),
        )
        self.out_proj = nn.Linear(size, config.num_labels)  # eq. 31 (softmax applied by the loss / pipeline)

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.mlp(self.fc(fused)))


__all__ = ["MCNCLProjectionHead", "MCNCLClassifier"]

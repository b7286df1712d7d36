"""The discriminator: the generator's encoder layout with LeakyReLU, pooled, one sigmoid per frame."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from svdgan.config import ModelConfig
from svdgan.model.generator import Encoder


class DiscriminatorOutput(NamedTuple):
    prob: torch.Tensor  # (B, T) probability that each frame is real
    features: torch.Tensor  # (B, T, Cz) pooled features, for feature matching


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.encoder = Encoder(cfg, leaky=True)
        self.classifier = nn.Linear(self.encoder.out_channels, 1)

    def forward(self, x: torch.Tensor) -> DiscriminatorOutput:
        latent, _ = self.encoder(x)  # (B, T, Cz, s, s)
        features = latent.mean(dim=(-2, -1))  # (B, T, Cz)
        prob = torch.sigmoid(self.classifier(features)).squeeze(-1)
        return DiscriminatorOutput(prob, features)

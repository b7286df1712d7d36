"""The SVD-GAN generator: encoder -> decoder -> second encoder (paper Sec. 3.1 and 3.4).

Shapes are for the default configuration (S = 128, T = 7):
    X      (B, T, 3, 128, 128)  frames in [-1, 1]
    skip1  (B*T, 128, 64, 64)   first per-frame conv
    skip2  (B*T, 64, 32, 32)    second per-frame conv
    Z      (B, T, 128, 16, 16)  after the ConvLSTM stack
    G(X)   (B, T, 3, 128, 128)  reconstruction, tanh
    Z_bar  (B, T, 128, 16, 16)  second encoder applied to G(X)
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
from torch import nn

from svdgan.config import ModelConfig
from svdgan.model.layers import ConvLSTM, LSTMState, SeparableConv2d, conv2d, fold_batch_norm, per_frame, upconv2d


class FrameFeatures(NamedTuple):
    skip1: torch.Tensor  # (N, conv1, S/2, S/2)
    skip2: torch.Tensor  # (N, conv2, S/4, S/4)


class GeneratorOutput(NamedTuple):
    recon: torch.Tensor  # (B, T, C, S, S)
    latent: torch.Tensor  # (B, T, Cz, S/8, S/8)
    latent_recon: torch.Tensor  # (B, T, Cz, S/8, S/8)


class InplaceTanh(nn.Module):
    """tanh written over its input: batch norm does not keep its output, so this is safe, and it
    saves allocating (and page-faulting in) one more activation-sized tensor per layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.requires_grad:
            return torch.tanh_(x)
        # Scoring: tanh(x) = 2 sigmoid(2x) - 1, equal to 2e-7 and cheaper than torch's CPU tanh.
        return x.mul_(2).sigmoid_().mul_(2).sub_(1)


def _norm_act(channels: int, act: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(channels), act)


class Encoder(nn.Module):
    """Two per-frame convolutions (5x5 s2, 3x3 s2), then a ConvLSTM stack (first one stride 2).

    Every layer is followed by batch norm and the activation (tanh in the generator,
    LeakyReLU in the discriminator).
    """

    def __init__(self, cfg: ModelConfig, leaky: bool = False):
        super().__init__()
        def make_act() -> nn.Module:
            return nn.LeakyReLU(0.2, inplace=True) if leaky else InplaceTanh()
        self.conv1 = nn.Sequential(conv2d(cfg.channels, cfg.conv1_channels, 5, 2, cfg.separable),
                                   _norm_act(cfg.conv1_channels, make_act()))
        self.conv2 = nn.Sequential(conv2d(cfg.conv1_channels, cfg.conv2_channels, 3, 2, cfg.separable),
                                   _norm_act(cfg.conv2_channels, make_act()))
        self.lstms = nn.ModuleList()
        self.lstm_norms = nn.ModuleList()
        in_ch = cfg.conv2_channels
        for i, hidden in enumerate(cfg.lstm_channels):
            self.lstms.append(ConvLSTM(in_ch, hidden, 3, stride=2 if i == 0 else 1,
                                       separable=cfg.separable_lstm))
            self.lstm_norms.append(_norm_act(hidden, make_act()))
            in_ch = hidden
        self.out_channels = in_ch

    def frame_features(self, frames: torch.Tensor) -> FrameFeatures:
        """(N, C, S, S) -> per-frame features; these do not depend on other frames."""
        skip1 = self.conv1(frames)
        return FrameFeatures(skip1, self.conv2(skip1))

    def temporal(self, skip2: torch.Tensor, states: list[LSTMState | None] | None = None
                 ) -> tuple[torch.Tensor, list[LSTMState]]:
        """(B, T, conv2, S/4, S/4) -> latent (B, T, Cz, S/8, S/8) and each layer's final state."""
        states = states or [None] * len(self.lstms)
        x, new_states = skip2, []
        for lstm, norm, state in zip(self.lstms, self.lstm_norms, states):
            x, state = lstm(x, state)
            x = per_frame(norm, x)
            new_states.append(state)
        return x, new_states

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, FrameFeatures]:
        """(B, T, C, S, S) -> latent (B, T, Cz, s, s) and the per-frame skips (folded (B*T, ...))."""
        b, t = x.shape[:2]
        features = self.frame_features(x.flatten(0, 1))
        latent, _ = self.temporal(features.skip2.unflatten(0, (b, t)))
        return latent, features


class Decoder(nn.Module):
    """Per-frame transposed convolutions back to image space, with the encoder's skips added."""

    def __init__(self, cfg: ModelConfig, latent_channels: int):
        super().__init__()
        self.up1 = nn.Sequential(upconv2d(latent_channels, cfg.conv2_channels, 3),
                                 _norm_act(cfg.conv2_channels, InplaceTanh()))
        self.up2 = nn.Sequential(upconv2d(cfg.conv2_channels, cfg.conv1_channels, 5),
                                 _norm_act(cfg.conv1_channels, InplaceTanh()))
        self.up3 = nn.Sequential(upconv2d(cfg.conv1_channels, cfg.decoder_channels, 5),
                                 _norm_act(cfg.decoder_channels, InplaceTanh()))
        self.out = nn.Sequential(conv2d(cfg.decoder_channels, cfg.channels, 5, 1, cfg.separable), nn.Tanh())
        # Without the skips, frame t's own details cannot reach its output: a bottleneck, so that
        # copying the last input frame is not the easy answer.
        self.skips = cfg.skips
        if cfg.zero_init:
            # A residual model then starts as "copy frame t-1" rather than adding random noise to it:
            # it no longer spends its first steps unlearning the noise, and an L2 loss can grow
            # the change from there (the last 1x1 or k x k conv's weights still get gradients).
            last = [m for m in self.out.modules() if isinstance(m, nn.Conv2d)][-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, latent: torch.Tensor, skips: FrameFeatures) -> torch.Tensor:
        """(N, Cz, s, s) latent frames and their skips -> (N, C, S, S) frames."""
        x = self.up1(latent)
        if self.skips:
            x = x + skips.skip2
        x = self.up2(x)
        if self.skips:
            x = x + skips.skip1
        return self.out(self.up3(x))


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg, self.encoder.out_channels)
        self.encoder2 = Encoder(cfg)  # encoder-decoder-encoder: maps G(X) back to the latent space

    def decode(self, latent: torch.Tensor, skips: FrameFeatures, last: torch.Tensor) -> torch.Tensor:
        """(N, Cz, s, s) latents, the skips and the frames (N, C, S, S) they end at -> generated frames.
        Residual models output `last` plus the decoder's output: the change to the next frame."""
        out = self.decoder(latent, skips)
        return (out + last).clamp(-1, 1) if self.cfg.residual else out

    def reconstruct(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, C, S, S) -> generated frames (B, T, C, S, S), one per input frame, and latent Z."""
        b, t = x.shape[:2]
        latent, skips = self.encoder(x)
        recon = self.decode(latent.flatten(0, 1), skips, x.flatten(0, 1)).unflatten(0, (b, t))
        return recon, latent

    def forward(self, x: torch.Tensor) -> GeneratorOutput:
        recon, latent = self.reconstruct(x)
        latent_recon, _ = self.encoder2(recon)
        return GeneratorOutput(recon, latent, latent_recon)


def fuse_for_inference(generator: Generator) -> Generator:
    """An eval-mode copy with each per-frame convolution's batch norm folded into it (the same
    function; not for training). The ConvLSTMs' batch norms stay: a nonlinearity lies between."""
    fused = copy.deepcopy(generator).eval()
    blocks = [fused.encoder.conv1, fused.encoder.conv2, fused.decoder.up1, fused.decoder.up2, fused.decoder.up3]
    for block in blocks:  # nn.Sequential(conv, nn.Sequential(batch norm, activation))
        conv, (bn, act) = block[0], block[1]
        fold_batch_norm(conv, bn)
        block[1] = nn.Sequential(act)
    fused = fused.to(memory_format=torch.channels_last)
    last = fused.decoder.out[0]
    if isinstance(last, SeparableConv2d):  # its fastest form depends on the CPU: time each once
        size = generator.cfg.size
        last.pick_fastest_form(torch.randn(1, last.depthwise.in_channels, size, size
                                           ).contiguous(memory_format=torch.channels_last))
    return fused

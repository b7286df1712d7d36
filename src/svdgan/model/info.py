"""Model size and cost: parameters per part, what depthwise-separable conv saves, FLOPs per frame."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from svdgan.config import ModelConfig
from svdgan.model.discriminator import Discriminator
from svdgan.model.generator import FrameFeatures, Generator


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def parameter_counts(cfg: ModelConfig) -> dict[str, int]:
    g, d = Generator(cfg), Discriminator(cfg)
    return {"encoder": count(g.encoder), "decoder": count(g.decoder), "encoder2": count(g.encoder2),
            "generator": count(g.encoder) + count(g.decoder),  # what scoring needs (the authors' count)
            "generator_training": count(g), "discriminator": count(d), "total": count(g) + count(d)}


def count_flops(fn: Any) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


@torch.inference_mode()
def flops_per_frame(cfg: ModelConfig) -> dict[str, float]:
    """FLOPs (2 per multiply-add) of the generator's reconstruction.

    clip: one T-frame clip reconstructed (training and the authors' test procedure, which
    reconstructs a whole window for every output frame); per_frame: clip / T; causal: what
    svdgan spends per output frame (encode the frame, run the ConvLSTM window, decode one frame).
    """
    g = Generator(cfg).eval()
    clip = torch.zeros(1, cfg.clip_len, cfg.channels, cfg.size, cfg.size)
    clip_flops = count_flops(lambda: g.reconstruct(clip))
    frames = clip[0]
    encode_one = count_flops(lambda: g.encoder.frame_features(frames[:1]))  # frame features: once per frame
    features = g.encoder.frame_features(frames)
    latent, _ = g.encoder.temporal(features.skip2[None])
    window = count_flops(lambda: g.encoder.temporal(features.skip2[None]))  # the ConvLSTM over the window
    newest = FrameFeatures(features.skip1[-1:], features.skip2[-1:])
    decode = count_flops(lambda: g.decode(latent[:, -1], newest, frames[-1:]))  # only the newest frame
    causal = encode_one + window + decode
    return {"clip": clip_flops, "per_frame": clip_flops / cfg.clip_len, "windowed_per_output_frame": clip_flops,
            "causal_per_output_frame": causal}


def model_info(cfg: ModelConfig) -> dict[str, Any]:
    params = parameter_counts(cfg)
    ordinary = parameter_counts(dataclasses.replace(cfg, separable=False, separable_lstm=False))
    reduction = {k: 1 - params[k] / ordinary[k] for k in ("encoder", "decoder", "generator", "total")}
    return {"config": dataclasses.asdict(cfg), "parameters": params, "parameters_ordinary_conv": ordinary,
            "separable_reduction": reduction, "flops": flops_per_frame(cfg)}


def format_info(info: dict[str, Any]) -> str:
    p, o, r, f = info["parameters"], info["parameters_ordinary_conv"], info["separable_reduction"], info["flops"]
    lines = ["parameters                 separable     ordinary conv   reduction"]
    for key in ("encoder", "decoder", "generator", "total"):
        lines.append(f"  {key:<22} {p[key]:>11,}   {o[key]:>13,}   {r[key]:>8.1%}")
    lines += [f"  {'second encoder':<22} {p['encoder2']:>11,}",
              f"  {'discriminator':<22} {p['discriminator']:>11,}",
              "FLOPs (2 per multiply-add, torch.utils.flop_counter)"]
    rows = [(f"per {info['config']['clip_len']}-frame clip", f["clip"], ""),
            ("per frame (clip / T)", f["per_frame"], ""),
            ("per scored frame, windowed", f["windowed_per_output_frame"], " (the authors' test procedure)"),
            ("per scored frame, causal", f["causal_per_output_frame"], " (svdgan evaluate)")]
    lines += [f"  {label:<27}{value / 1e9:8.2f} GFLOP{note}" for label, value, note in rows]
    return "\n".join(lines)

"""Per-frame anomaly scores (paper Sec. 3.5) and their normalisation.

Frame t is reconstructed as the last frame of the causal window [t-T+1, t]: the ConvLSTM
stack runs over those frames and only frame t is decoded. The first T-1 frames of a video
get the shorter window [0, t], so every frame has a score and no score uses the future.
This is what a live stream can compute, and `svdgan detect` reproduces it exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .data.frames import to_model_range
from .generator import FrameFeatures, Generator

NORMALIZATIONS = ("video", "train", "none")


class VideoScores(NamedTuple):
    scores: np.ndarray  # (N,) mean squared error per frame
    recons: dict[int, np.ndarray]  # frame index -> (C, S, S) reconstruction in [-1, 1], if asked


@torch.inference_mode()
def reconstruct_windows(generator: Generator, frames: torch.Tensor, ends: list[int], window: int
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruct frames[t] from frames[t-window+1 .. t] for every t in `ends` (equal windows)."""
    first = ends[0] - window + 1
    chunk = frames[first:ends[-1] + 1].contiguous(memory_format=torch.channels_last)
    features = generator.encoder.frame_features(chunk)  # each frame encoded once
    offsets = torch.tensor(ends) - first
    steps = offsets[:, None] + torch.arange(-window + 1, 1)[None, :]  # (B, window) frame indices
    latent, _ = generator.encoder.temporal(features.skip2[steps])  # (B, window, Cz, s, s)
    skips = FrameFeatures(features.skip1[offsets], features.skip2[offsets])
    recon = generator.decoder(latent[:, -1], skips)  # (B, C, S, S)
    target = chunk[offsets]
    return recon, (recon - target).pow(2).flatten(1).mean(1)


def score_video(generator: Generator, frames: np.ndarray, clip_len: int, batch_size: int = 8,
                keep: set[int] | None = None) -> VideoScores:
    """Scores for every frame of one video, frames (N, C, S, S) uint8."""
    video = to_model_range(frames)
    n = len(video)
    scores = np.empty(n, dtype=np.float64)
    recons: dict[int, np.ndarray] = {}
    groups = [[t] for t in range(min(clip_len - 1, n))]  # short windows at the start, one by one
    full = list(range(clip_len - 1, n))
    groups += [full[i:i + batch_size] for i in range(0, len(full), batch_size)]
    for ends in groups:
        window = min(clip_len, ends[0] + 1)
        recon, errors = reconstruct_windows(generator, video, ends, window)
        scores[ends] = errors.double().numpy()
        for j, t in enumerate(ends):
            if keep and t in keep:
                recons[t] = recon[j].float().numpy()
    return VideoScores(scores, recons)


def score_stats(scores: np.ndarray) -> dict[str, float]:
    """Statistics of normal scores, stored in the checkpoint for normalisation and thresholds."""
    q = np.percentile(scores, [50, 95, 99, 99.9])
    return {"n": int(len(scores)), "mean": float(scores.mean()), "std": float(scores.std()),
            "min": float(scores.min()), "max": float(scores.max()),
            "p50": float(q[0]), "p95": float(q[1]), "p99": float(q[2]), "p999": float(q[3])}


def normalize(scores: np.ndarray, mode: str, stats: dict[str, float] | None = None) -> np.ndarray:
    """'video': min-max over this video (the paper's; needs the whole video, not causal).
    'train': min-max of the normal training scores (causal: 1.0 = the worst normal frame seen).
    'none': raw mean squared error."""
    if mode == "none":
        return scores
    if mode == "video":
        low, high = scores.min(), scores.max()
    elif mode == "train":
        if not stats:
            raise ValueError("train normalisation needs the checkpoint's score statistics")
        low, high = stats["min"], stats["max"]
    else:
        raise ValueError(f"unknown normalisation {mode!r}")
    return (scores - low) / max(high - low, 1e-12)

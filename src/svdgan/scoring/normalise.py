"""Per-frame score series: causal smoothing, normal-score statistics and normalisation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from svdgan.config import Config
from svdgan.errors import UserError

NORMALIZATIONS = ("video", "train", "none")


def score_stats(scores: np.ndarray) -> dict[str, float]:
    """Statistics of normal scores, stored in the checkpoint for normalisation and thresholds."""
    q = np.percentile(scores, [50, 95, 99, 99.9])
    return {"n": int(len(scores)), "mean": float(scores.mean()), "std": float(scores.std()),
            "min": float(scores.min()), "max": float(scores.max()),
            "p50": float(q[0]), "p95": float(q[1]), "p99": float(q[2]), "p999": float(q[3])}


def stats_match(stats: dict | None, config: Config, motion: bool = False) -> bool:
    """True when `stats` were computed with the score options of `config`, and fused with a motion
    memory's scores when `motion`."""
    return bool(stats) and (stats.get("patch", 0), stats.get("smooth", 1), stats.get("motion", False),
                            stats.get("generator", True)) == (
        config.score.patch, config.score.smooth, motion, config.score.generator or not motion)


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


def require_stats(stats: dict[str, Any] | None, path: str | Path) -> dict[str, Any]:
    """The one guard for a model file without normal-score statistics (training cut short): scores
    normalised with training statistics need them."""
    if not stats:
        raise UserError(f"{path} has no normal-score statistics: finish training or run svdgan calibrate")
    return stats

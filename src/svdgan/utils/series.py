"""Per-frame score series: the causal mean of a series (whole, or a frame at a time) and scores in
standard deviations of normal ones. One arithmetic for offline and live, so both give equal scores."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np


def causal_smooth(scores: np.ndarray, window: int) -> np.ndarray:
    """Mean of each score with the window - 1 scores before it (fewer at the start)."""
    if window <= 1:
        return scores
    sums = np.cumsum(np.r_[0.0, scores])
    ends = np.arange(1, len(scores) + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


class CausalMean:
    """causal_smooth a score at a time: the mean of the last `window` scores pushed."""

    def __init__(self, window: int):
        self.recent: deque[float] = deque(maxlen=max(window, 1))

    def push(self, score: float) -> float:
        self.recent.append(float(score))
        return sum(self.recent) / len(self.recent)


def standardise(value: Any, stats: dict[str, float]) -> Any:
    """A score (or array of them) in standard deviations of normal scores with these statistics."""
    return (value - stats["mean"]) / max(stats["std"], 1e-12)


def normal_stats(scores: np.ndarray) -> dict[str, float]:
    """The mean and spread of normal scores, that standardise a part's scores."""
    return {"mean": float(scores.mean()), "std": float(scores.std())}

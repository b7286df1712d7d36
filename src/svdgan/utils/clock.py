"""Time spent per stage of the per-frame path, and latencies summed up: what `svdgan benchmark` and
`svdgan info` report is measured inside the path every caller scores through, not beside it."""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np


class StageClock:
    """Seconds per stage, summed over every frame it timed: `start()` before a frame's work, `lap(stage)`
    after each stage of it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._last = time.perf_counter()

    def start(self) -> None:
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] += now - self._last
        self._last = now

    def ms_per_frame(self, frames: int) -> dict[str, float]:
        return {stage: 1000 * s / max(frames, 1) for stage, s in self.seconds.items()}


class _NoClock(StageClock):
    """What the path uses when nobody times it: every lap is free."""

    def start(self) -> None:
        pass

    def lap(self, stage: str) -> None:
        pass


NO_CLOCK = _NoClock()


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """Per-frame latency in milliseconds: mean, variance, p50, p99 and the worst case."""
    if not seconds:
        return {"mean": float("nan"), "var": float("nan"), "p50": float("nan"), "p99": float("nan"),
                "max": float("nan")}
    ms = np.asarray(seconds) * 1000
    return {"mean": float(ms.mean()), "var": float(ms.var()), "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "max": float(ms.max())}

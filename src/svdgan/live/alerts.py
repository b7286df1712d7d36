"""Alerts: a threshold on the normalised score that must hold for a minimum number of frames."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any

import numpy as np


@dataclass
class Alarm:
    """Flags a stream once `min_frames` consecutive scores exceed `threshold` (causal)."""

    threshold: float
    min_frames: int = 1
    run: int = 0  # consecutive frames above the threshold so far

    def update(self, score: float) -> bool:
        self.run = self.run + 1 if score > self.threshold else 0
        return self.run >= self.min_frames


def event(source: str, frame: int, time: float, score: float, anomalous: bool,
          why: dict[str, Any] | None = None) -> dict[str, Any]:
    """One JSON-lines record of `svdgan detect`; an anomalous frame says why, where it can."""
    record = {"source": source, "frame": frame, "time": round(time, 4), "score": round(float(score), 6),
              "anomalous": bool(anomalous)}
    if anomalous and why is not None:
        record["why"] = why
    return record


def write_event(stream: IO[str], record: dict[str, Any]) -> None:
    stream.write(json.dumps(record) + "\n")


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """Per-frame latency in milliseconds: mean, variance, p50, p99 and the worst case."""
    if not seconds:
        return {"mean": float("nan"), "var": float("nan"), "p50": float("nan"), "p99": float("nan"),
                "max": float("nan")}
    ms = np.asarray(seconds) * 1000
    return {"mean": float(ms.mean()), "var": float(ms.var()), "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "max": float(ms.max())}

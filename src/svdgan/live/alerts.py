"""Alerts: a threshold on the normalised score that must hold for a minimum number of frames to
raise an alert, and fail to hold for a number of frames to lower it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

# An alert ends after this many frames in a row at or under the threshold, so that a dip inside
# one anomaly does not split it into several events (2 s at 5 frames/s; chosen on synthetic cameras
# 100 to 103, not the benchmark's: benchmarks/results/events_end_frames.json).
END_FRAMES = 10


@dataclass
class Alarm:
    """Raised once `min_frames` consecutive scores exceed `threshold`; lowered once `end_frames`
    consecutive scores do not (causal). Holding through a short dip keeps one anomaly one event."""

    threshold: float
    min_frames: int = 1
    end_frames: int = 1
    above: int = 0  # consecutive frames above the threshold so far
    below: int = 0  # consecutive frames at or under it
    raised: bool = False

    def update(self, score: float) -> bool:
        if score > self.threshold:
            self.above, self.below = self.above + 1, 0
        else:
            self.above, self.below = 0, self.below + 1
        if not self.raised:
            self.raised = self.above >= self.min_frames
        elif self.below >= self.end_frames:
            self.raised = False
        return self.raised


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

"""Frame-level ROC, AUC and EER; micro (all frames) and macro (per video) figures.

Higher score = more anomalous. Tied scores are handled exactly: the AUC is the probability
that a random anomalous frame outscores a random normal one, ties counting one half.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class Roc(NamedTuple):
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray  # a frame is flagged when score >= threshold


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> Roc:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tp = np.cumsum(labels)[last_of_tie]
    fp = np.cumsum(~labels)[last_of_tie]
    pos, neg = labels.sum(), (~labels).sum()
    fpr = np.r_[0.0, fp / neg] if neg else np.full(len(fp) + 1, np.nan)
    tpr = np.r_[0.0, tp / pos] if pos else np.full(len(tp) + 1, np.nan)
    return Roc(fpr, tpr, np.r_[np.inf, scores[last_of_tie]])


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve, or None when only one class is present."""
    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any():
        return None
    roc = roc_curve(scores, labels)
    return float(np.trapezoid(roc.tpr, roc.fpr))


def eer(scores: np.ndarray, labels: np.ndarray) -> tuple[float | None, float | None]:
    """Equal error rate (where false positive and false negative rates meet) and its threshold."""
    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any():
        return None, None
    roc = roc_curve(scores, labels)
    fnr = 1 - roc.tpr
    diff = roc.fpr - fnr  # rises from -1 to +1 along the curve
    i = int(np.flatnonzero(diff >= 0)[0])
    if i == 0 or diff[i] == 0:
        return float(roc.fpr[i]), float(roc.thresholds[i])
    w = -diff[i - 1] / (diff[i] - diff[i - 1])  # linear interpolation between the two ROC points
    rate = roc.fpr[i - 1] + w * (roc.fpr[i] - roc.fpr[i - 1])
    return float(rate), float(roc.thresholds[i])


def evaluate(videos: list[tuple[str, np.ndarray, np.ndarray]], normalize: str) -> dict[str, Any]:
    """Metrics over (name, scores, labels) per video: the keys of metrics.json."""
    all_scores = np.concatenate([s for _, s, _ in videos])
    all_labels = np.concatenate([lab for _, _, lab in videos])
    per_video = {name: auc(s, lab) for name, s, lab in videos}
    defined = [v for v in per_video.values() if v is not None]
    rate, threshold = eer(all_scores, all_labels)
    return {
        "micro_auc": auc(all_scores, all_labels),
        "macro_auc": float(np.mean(defined)) if defined else None,
        "eer": rate,
        "eer_threshold": threshold,
        "n_frames": int(len(all_scores)),
        "n_anomalous": int(all_labels.sum()),
        "n_videos": len(videos),
        "normalize": normalize,
        "per_video": per_video,
    }


class PixelScores:
    """Pixel-level ROC AUC: every pixel of every masked test frame is a sample, its error the score.

    Error maps are kept as float16 at model resolution (128 x 128: 32 KB a frame)."""

    def __init__(self) -> None:
        self.maps: list[np.ndarray] = []
        self.masks: list[np.ndarray] = []

    @property
    def n_frames(self) -> int:
        return sum(len(m) for m in self.maps)

    def add(self, maps: np.ndarray, masks: np.ndarray) -> None:
        """maps (N, S, S) errors and masks (N, S, S) bool of one video."""
        self.maps.append(maps)
        self.masks.append(masks)

    def auc(self) -> float | None:
        return auc(np.concatenate([m.ravel() for m in self.maps]).astype(np.float32),
                   np.concatenate([m.ravel() for m in self.masks]))

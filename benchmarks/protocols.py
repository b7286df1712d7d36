"""Evaluation protocols other than svdgan's own: the SVD-GAN authors'.
"""

from __future__ import annotations

import numpy as np

from svdgan.data.datasets import FrameTruth
from svdgan.data.groundtruth import frame_labels, labels_from_ranges
from svdgan.evaluation.metrics import evaluate as compute_metrics
from svdgan.scoring.normalise import normalize


def authors_metrics(videos: list[tuple[str, np.ndarray]], truth: list[FrameTruth]) -> dict[str, float]:
    """The authors' evaluation of the same scores: per-video min-max, the ground truth's 1-based
    ranges applied to 0-based frame indices, and the mean of per-video AUCs (macro) as the figure."""
    labelled = [(name, normalize(scores, "video"),
                 labels_from_ranges(t, len(scores), zero_based=True, video=name) if isinstance(t, list)
                 else frame_labels(t, len(scores), name))  # no ranges, no off-by-one to copy
                for (name, scores), t in zip(videos, truth, strict=True)]
    metrics = compute_metrics(labelled, "video")
    return {"macro_auc": metrics["macro_auc"], "micro_auc": metrics["micro_auc"]}

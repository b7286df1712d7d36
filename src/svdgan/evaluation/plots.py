"""The report's figures: ROC curve, score over time per video (paper Fig. 4), reconstructions (Fig. 5)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from svdgan.evaluation.metrics import roc_curve  # noqa: E402


def plot_roc(path: Path, scores: np.ndarray, labels: np.ndarray, auc_value: float | None,
             eer_value: float | None) -> None:
    roc = roc_curve(scores, labels)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(roc.fpr, roc.tpr, lw=2, label=f"micro AUC = {auc_value:.4f}" if auc_value else "ROC")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    if eer_value is not None:
        ax.plot([eer_value], [1 - eer_value], "ro", label=f"EER = {eer_value:.4f}")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01),
           title="Frame-level ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True as (first, last) 0-based indices."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
    return list(zip(edges[::2], edges[1::2] - 1))


def plot_video_scores(path: Path, name: str, scores: np.ndarray, labels: np.ndarray | None,
                      threshold: float | None, normalize: str) -> None:
    """Score over time, ground truth shaded, true and false positives at the threshold marked."""
    frames = np.arange(1, len(scores) + 1)
    fig, ax = plt.subplots(figsize=(8, 3))
    if labels is not None:
        for first, last in _spans(labels):
            ax.axvspan(first + 0.5, last + 1.5, color="tab:red", alpha=0.15, lw=0,
                       label="anomalous (ground truth)" if first == _spans(labels)[0][0] else None)
    ax.plot(frames, scores, color="tab:blue", lw=1.5, label=f"anomaly score ({normalize})")
    if threshold is not None and np.isfinite(threshold):
        ax.axhline(threshold, color="gray", ls="--", lw=1, label="EER threshold")
        flagged = scores >= threshold
        if labels is not None:
            tp, fp = flagged & labels, flagged & ~labels
            ax.scatter(frames[tp], scores[tp], s=10, color="tab:green", zorder=3, label="true positive")
            ax.scatter(frames[fp], scores[fp], s=10, color="tab:orange", zorder=3, label="false positive")
    ax.set(xlabel="frame", ylabel="score", title=f"video {name}", xlim=(1, max(len(scores), 2)))
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def _image(x: np.ndarray) -> np.ndarray:
    """(C, S, S) in [-1, 1] -> (S, S, 3) in [0, 1]."""
    x = np.clip((x.transpose(1, 2, 0) + 1) / 2, 0, 1)
    return np.repeat(x, 3, axis=2) if x.shape[2] == 1 else x


def plot_reconstructions(path: Path, samples: list[tuple[str, np.ndarray, np.ndarray, bool | None]]
                         ) -> None:
    """Rows of (input, reconstruction, squared-error map); samples: (title, frame, recon, anomalous)."""
    fig, axes = plt.subplots(len(samples), 3, figsize=(7, 2.3 * len(samples)), squeeze=False)
    vmax = max(float(((f - r) ** 2).mean(0).max()) for _, f, r, _ in samples) or 1.0
    for row, (title, frame, recon, anomalous) in zip(axes, samples):
        tag = {True: " (anomalous)", False: " (normal)", None: ""}[anomalous]
        row[0].imshow(_image(frame))
        row[0].set_title(title + tag, fontsize=8)
        row[1].imshow(_image(recon))
        row[1].set_title("reconstruction", fontsize=8)
        row[2].imshow(((frame - recon) ** 2).mean(0), cmap="inferno", vmin=0, vmax=vmax)
        row[2].set_title("squared error", fontsize=8)
        for ax in row:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)

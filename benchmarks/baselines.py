"""What a model is measured against: the no-model detector (frame t-1 as the prediction of frame
t), alone or fused with the memory of normal motion, and how much of the true change a
predicting model generates.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.protocols import authors_metrics
from svdgan.config import Config
from svdgan.data.datasets import discover
from svdgan.data.frames import load_video, to_model_range
from svdgan.data.groundtruth import frame_labels
from svdgan.errors import UserError
from svdgan.evaluation.metrics import evaluate as compute_metrics
from svdgan.memory.fitting import normal_greys
from svdgan.memory.flow import grey_video
from svdgan.model.checkpoint import load_generator
from svdgan.scoring.fusion import fuse_normal_scores
from svdgan.scoring.normalise import normalize
from svdgan.scoring.video import frame_score, patch_errors, reconstruct_windows, window_end
from svdgan.utils.series import causal_smooth


def copy_errors(frames: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, P, P) patch errors of frame t-1 as the prediction of frame t (frame 0 from itself, as
    the models)."""
    return patch_errors(torch.cat([frames[:1], frames[:-1]]), frames, patch)


def _copy_scores(videos: list[np.ndarray], config: Config) -> list[np.ndarray]:
    """Smoothed no-model scores of each video (N, C, S, S) uint8."""
    return [causal_smooth(frame_score(copy_errors(to_model_range(v), config.score.patch), config.score.patch)
                          .double().numpy(), config.score.smooth) for v in videos]


def baseline_metrics(data: Path, config: Config, memory: str = "none") -> dict[str, Any]:
    """The frame-difference detector: what a predictor that learned nothing but 'copy' scores;
    `memory` "fused": its score fused with the memory of normal motion as the generator's would
    be, "alone": the memory's score alone."""
    dataset = discover(data)
    if dataset.ground_truth is None:
        raise UserError(f"{data} has no ground truth")
    start = time.perf_counter()
    size, channels = config.model.size, config.model.channels
    test_videos = [load_video(v, size, channels) for v in dataset.test]
    scores = _copy_scores(test_videos, config)
    if memory != "none":
        cfg = copy.deepcopy(config)
        cfg.memory.enabled = True
        per_video = max(cfg.model.clip_len, cfg.train.stats_frames // len(dataset.train))  # as normal_scores
        normal_copy = _copy_scores([load_video(v, size, channels)[:per_video] for v in dataset.train], cfg)
        _, fitted = fuse_normal_scores(normal_copy, normal_greys(dataset.train, cfg), cfg)
        motion = [fitted.video_scores(grey_video(v, cfg.memory.height), cfg.score.smooth) for v in dataset.test]
        scores = [fitted.fuse(c, mo) if memory == "fused" else mo for c, mo in zip(scores, motion)]
    rows = [(video.name, s, frame_labels(truth, len(s), video.name))
            for video, truth, s in zip(dataset.test, dataset.ground_truth, scores)]
    raw = compute_metrics(rows, "none")
    video = compute_metrics([(n, normalize(s, "video"), lab) for n, s, lab in rows], "video")
    authors = authors_metrics([(n, s) for n, s, _ in rows], dataset.ground_truth)
    return {"micro_auc_train": raw["micro_auc"], "micro_auc_video": video["micro_auc"],
            "macro_auc": raw["macro_auc"], "eer_train": raw["eer"], "eer_video": video["eer"],
            "authors": authors, "n_frames": raw["n_frames"],
            "score": {"patch": config.score.patch, "smooth": config.score.smooth, "motion": memory},
            "eval_seconds": round(time.perf_counter() - start, 1)}


def motion_generated(model: Path, data: Path, n_videos: int = 4, n_frames: int = 60,
                     moving: float = 0.1) -> dict[str, float] | None:
    """How much of the frame-to-frame change a predicting model generates, on training frames:
    over the pixels that change by more than `moving` (in [-1, 1]), the mean |generated - frame
    t-1| over the mean |frame t - frame t-1|, and the correlation of the two. Near 0: the model
    only copies frame t-1. None for models that reconstruct."""
    generator, config, _ = load_generator(model)
    offset, clip_len = config.target_offset, config.model.clip_len
    if not offset:
        return None
    generated, previous, targets = [], [], []
    for video in discover(data).train[:n_videos]:
        frames = to_model_range(load_video(video, config.model.size, config.model.channels))
        ends = [window_end(t, offset) for t in range(clip_len + offset, min(len(frames), n_frames))]
        recon, _ = reconstruct_windows(generator, frames, ends, clip_len, 0, offset)
        generated.append(recon)
        previous.append(frames[ends])
        targets.append(frames[[t + offset for t in ends]])
    return change_stats(torch.cat(generated), torch.cat(previous), torch.cat(targets), moving)


def change_stats(generated: torch.Tensor, previous: torch.Tensor, target: torch.Tensor,
                 moving: float = 0.1) -> dict[str, float]:
    """Over the pixels where frame t moved by more than `moving` from frame t-1: the mean
    generated change |generated - previous| over the mean true one, and their correlation."""
    change = target - previous
    mask = change.abs() > moving
    g, t = (generated - previous)[mask].double(), change[mask].double()
    correlation = torch.corrcoef(torch.stack([g, t]))[0, 1] if g.std() > 0 else torch.tensor(0.0)
    return {"ratio": float(g.abs().mean() / t.abs().mean()), "correlation": float(correlation)}

"""`svdgan evaluate`: score every test frame, compute the metrics, write the report."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from svdgan.config import Config, apply_overrides
from svdgan.data.datasets import discover
from svdgan.data.frames import load_video, to_model_range
from svdgan.data.groundtruth import frame_labels
from svdgan.errors import UserError
from svdgan.evaluation import plots
from svdgan.evaluation.metrics import PixelScores
from svdgan.evaluation.metrics import evaluate as compute_metrics
from svdgan.evaluation.scorefiles import write_scores_csv
from svdgan.memory.bank import MotionMemory, load_memory
from svdgan.memory.flow import grey_video
from svdgan.model.checkpoint import load_generator, require_generator
from svdgan.model.generator import Generator
from svdgan.scoring.calibrate import score_overrides
from svdgan.scoring.fusion import scoring_for_view
from svdgan.scoring.normalise import NORMALIZATIONS, normalize, require_stats, stats_match
from svdgan.scoring.stream import StreamScorer, stream_video
from svdgan.scoring.video import first_input_frame, score_video
from svdgan.utils.files import atomic_write
from svdgan.utils.precision import choose_precision

GRID_VIDEOS = 3  # videos that contribute rows to the reconstruction grid


def evaluate_checkpoint(checkpoint: str | Path, data: str | Path, out_dir: str | Path,
                        normalize_mode: str = "video", ground_truth: str | Path | None = None,
                        progress: bool = True, overrides: list[str] | None = None,
                        scene: str | None = None, mode: str = "exact", precision: str = "fp32") -> dict[str, Any]:
    """Writes scores.csv, metrics.json (when labels exist) and the plots; returns the metrics.
    precision: 'fp32', 'bf16' or 'auto' (bf16 where native; says which on stderr)."""
    if mode not in ("exact", "fast"):
        raise UserError("--mode must be exact or fast")
    precision, precision_note = choose_precision(precision)
    if normalize_mode not in NORMALIZATIONS:
        raise UserError(f"--normalize must be one of {', '.join(NORMALIZATIONS)}")
    generator, config, payload = load_generator(checkpoint)
    apply_overrides(config, score_overrides(overrides or []))
    require_generator(payload, config, checkpoint)
    stats = payload.get("score_stats")
    memory = load_memory(payload, config)
    if normalize_mode == "train":
        require_stats(stats, checkpoint)
    if normalize_mode == "train" and not stats_match(stats, config, memory is not None):
        raise UserError(f"checkpoint {checkpoint} has statistics for other score options: "
                        "run `svdgan calibrate` with these --set values first")
    dataset = discover(data, ground_truth, scene)
    if not dataset.test:
        raise UserError(f"no test videos under {data}")

    scored = _score_test_videos(dataset, generator, config, stats, memory, normalize_mode, mode, precision, progress)
    metrics = _write_report(Path(out_dir), scored, dataset.ground_truth is not None, normalize_mode)
    metrics.update({"checkpoint": str(checkpoint), "mode": mode, "precision": precision,
                    "score": {"patch": config.score.patch, "smooth": config.score.smooth, "motion": memory is not None,
                              "generator": config.score.generator},
                    "data": str(data), "layout": dataset.layout})
    atomic_write(Path(out_dir) / "metrics.json", lambda tmp: tmp.write_text(json.dumps(metrics, indent=2)))
    if precision_note:  # said at the end: bad input anywhere above gets its one error line alone
        print(precision_note, file=sys.stderr)
    return metrics


@dataclass
class _Scored:
    rows: list[tuple[str, np.ndarray, np.ndarray | None]]  # (video, normalised scores, labels or None)
    pixels: PixelScores  # pixel-level AUC, where the dataset has masks
    samples: list  # the reconstruction grid's frames: the highest and lowest scored of the first videos


def _score_test_videos(dataset: Any, generator: Generator, config: Config, stats: dict | None,
                       memory: MotionMemory | None, normalize_mode: str, mode: str, precision: str,
                       progress: bool) -> _Scored:
    """Every test video's scores, exactly as `svdgan detect` gives them frame by frame."""
    rows: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    pixels = PixelScores()
    samples = []
    bar = tqdm(dataset.test, desc="scoring test videos", unit="video", disable=not progress)
    for i, video in enumerate(bar):
        frames = load_video(video, config.model.size, config.model.channels)
        labels = None
        if dataset.ground_truth is not None:
            labels = frame_labels(dataset.ground_truth[i], len(frames), video=video.name)
        masks = dataset.pixel_masks[i] if dataset.pixel_masks and mode == "exact" else None
        if not config.score.generator:  # the memory alone scores: no generator, no error maps
            raw, masks = None, None
        elif mode == "fast":  # as `svdgan detect --mode fast` scores a stream
            raw = stream_video(StreamScorer(generator, config, "fast", precision), frames)
        else:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                scored = score_video(generator, frames, config, maps=masks is not None)
            raw = scored.scores
        video_stats = stats
        if memory is not None:  # the same sum `svdgan detect` computes, frame by frame
            greys = grey_video(video, memory.config.height)
            video_memory, video_stats = scoring_for_view(memory, stats, (*greys.shape[1:], 1), f"video {video.name}")
            if video_memory is not None:
                raw = memory.fuse(raw, memory.video_scores(greys, config.score.smooth))

        if masks is not None:
            pixels.add(scored.maps, masks.at_size(len(frames), config.model.size, video.name))
        rows.append((video.name, normalize(raw, normalize_mode, video_stats), labels))
        if i < GRID_VIDEOS and config.score.generator:
            samples += _grid_samples(generator, frames, raw, config, video.name, labels)
    bar.close()
    return _Scored(rows, pixels, samples)


def _grid_samples(generator: Generator, frames: np.ndarray, raw: np.ndarray, config: Config, name: str,
                  labels: np.ndarray | None) -> list:
    """The video's highest and lowest scored frames beside their reconstructions."""
    samples = []
    for t in (int(np.argmax(raw)), int(np.argmin(raw))):
        first = first_input_frame(t, config)
        recon = score_video(generator, frames[first:t + 1], config, keep={t - first})
        samples.append((f"video {name}, frame {t + 1}", to_model_range(frames[t]).numpy(),
                        next(iter(recon.recons.values())), None if labels is None else bool(labels[t])))
    return samples


def _write_report(out_dir: Path, scored: _Scored, labelled: bool, normalize_mode: str) -> dict[str, Any]:
    """scores.csv, the ROC and per-video plots and the reconstruction grid; returns the metrics."""
    rows = scored.rows
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "scores.csv", lambda tmp: write_scores_csv(tmp, rows))
    metrics: dict[str, Any] = {"normalize": normalize_mode, "n_frames": int(sum(len(s) for _, s, _ in rows))}
    if labelled:
        with_labels = [(n, s, lab) for n, s, lab in rows if lab is not None]
        metrics = compute_metrics(with_labels, normalize_mode)
        if scored.pixels.n_frames:
            metrics["pixel_auc"] = scored.pixels.auc()
            metrics["pixel_auc_frames"] = scored.pixels.n_frames
        all_scores = np.concatenate([s for _, s, _ in with_labels])
        all_labels = np.concatenate([lab for _, _, lab in with_labels])
        atomic_write(out_dir / "roc.png", lambda tmp: plots.plot_roc(
            tmp, all_scores, all_labels, metrics["micro_auc"], metrics["eer"]))
    (out_dir / "videos").mkdir(exist_ok=True)
    for name, scores, labels in rows:
        atomic_write(out_dir / "videos" / f"{name}.png", lambda tmp, n=name, s=scores, lab=labels:
                     plots.plot_video_scores(tmp, n, s, lab, metrics.get("eer_threshold"), normalize_mode))
    if scored.samples:  # none without a generator
        atomic_write(out_dir / "reconstructions.png", lambda tmp: plots.plot_reconstructions(tmp, scored.samples))
    return metrics

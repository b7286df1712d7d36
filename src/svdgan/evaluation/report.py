"""`svdgan evaluate`: every test frame scored through the Detector, as `svdgan detect` scores the same
file frame by frame, then the metrics and the report."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from svdgan.data.datasets import Dataset, discover
from svdgan.data.frames import resize, to_model_range
from svdgan.data.groundtruth import frame_labels
from svdgan.defaults import MODE, NORMALIZE, PRECISION
from svdgan.errors import UserError
from svdgan.evaluation import plots
from svdgan.evaluation.metrics import PixelScores
from svdgan.evaluation.metrics import evaluate as compute_metrics
from svdgan.evaluation.scorefiles import write_scores_csv
from svdgan.scoring.detector import Detector
from svdgan.scoring.normalise import NORMALIZATIONS, normalize, require_stats
from svdgan.scoring.video import first_input_frame, score_video
from svdgan.utils.files import atomic_write

GRID_VIDEOS = 3  # videos that contribute rows to the reconstruction grid


def evaluate_checkpoint(checkpoint: str | Path | None, data: str | Path, out_dir: str | Path,
                        normalize_mode: str = NORMALIZE, ground_truth: str | Path | None = None,
                        progress: bool = True, overrides: list[str] | None = None,
                        scene: str | None = None, mode: str = MODE, precision: str = PRECISION) -> dict[str, Any]:
    """Writes scores.csv, metrics.json (when labels exist) and the plots; returns the metrics.
    `overrides`: score.* options, which the model's statistics must have been computed with."""
    if normalize_mode not in NORMALIZATIONS:
        raise UserError(f"--normalize must be one of {', '.join(NORMALIZATIONS)}")
    detector = Detector.load(checkpoint, mode, precision, overrides or [])
    if normalize_mode == "train":
        require_stats(detector.stats, detector.path)
        if not detector.stats_match():
            raise UserError(f"checkpoint {detector.path} has statistics for other score options: "
                            "run `svdgan calibrate` with these --set values first")
    dataset = discover(data, ground_truth, scene)
    if not dataset.test:
        raise UserError(f"no test videos under {data}")
    scored = _score_test_videos(dataset, detector, normalize_mode, mode, progress)
    metrics = _write_report(Path(out_dir), scored, dataset.ground_truth is not None, normalize_mode)
    config = detector.config
    metrics.update({"checkpoint": str(detector.path), "detector": detector.describe(),
                    "mode": mode if detector.scorer is not None else None,
                    "precision": precision if detector.scorer is not None else None,
                    "score": {"patch": config.score.patch, "smooth": config.score.smooth,
                              "motion": detector.memory is not None, "generator": config.score.generator},
                    "data": str(data), "layout": dataset.layout})
    atomic_write(Path(out_dir) / "metrics.json", lambda tmp: tmp.write_text(json.dumps(metrics, indent=2)))
    if detector.note and progress:  # said at the end: bad input anywhere above gets its one error line alone
        print(detector.note, file=sys.stderr)
    return metrics


@dataclass
class _Scored:
    rows: list[tuple[str, np.ndarray, np.ndarray | None]]  # (video, normalised scores, labels or None)
    pixels: PixelScores  # pixel-level AUC, where the dataset has masks and a generator draws error maps
    samples: list  # the reconstruction grid's frames: the highest and lowest scored of the first videos


def _score_test_videos(dataset: Dataset, detector: Detector, normalize_mode: str, mode: str,
                       progress: bool) -> _Scored:
    """Every test video through the Detector, one frame at a time."""
    rows: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    pixels = PixelScores()
    samples = []
    config = detector.config
    generator = getattr(detector.scorer, "generator", None)
    bar = tqdm(dataset.test, desc="scoring test videos", unit="video", disable=not progress)
    for i, video in enumerate(bar):
        masks = dataset.pixel_masks[i] if dataset.pixel_masks and mode == "exact" and generator is not None else None
        model_frames, scores, raw, maps = [], [], [], []
        for result in detector.score_video(video.frames(), f"video {video.name}", normalised=normalize_mode == "train"):
            scores.append(result.score)
            raw.append(result.raw)
            if masks is not None:
                maps.append(result.error_map.astype(np.float16))
            if generator is not None and i < GRID_VIDEOS:
                model_frames.append(resize(result.image, config.model.size, config.model.channels))
        raw_scores = np.asarray(raw)
        normalised = np.asarray(scores) if normalize_mode == "train" else normalize(raw_scores, normalize_mode)
        labels = None if dataset.ground_truth is None else frame_labels(dataset.ground_truth[i], len(raw), video.name)
        if masks is not None:
            pixels.add(np.stack(maps), masks.at_size(len(raw), config.model.size, video.name))
        rows.append((video.name, normalised, labels))
        if model_frames:
            samples += _grid_samples(generator, np.stack(model_frames), raw_scores, detector, video.name, labels)
    bar.close()
    return _Scored(rows, pixels, samples)


def _grid_samples(generator: Any, frames: np.ndarray, raw: np.ndarray, detector: Detector, name: str,
                  labels: np.ndarray | None) -> list:
    """The video's highest and lowest scored frames beside the generator's reconstructions of them."""
    samples, config = [], detector.config
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

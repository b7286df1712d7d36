"""`svdgan evaluate`: score every test frame, compute the metrics, write the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from . import plots
from .calibrate import score_overrides
from .checkpoint import atomic_write, load_generator
from .config import apply_overrides
from .data.datasets import discover
from .data.frames import load_video, to_model_range
from .data.groundtruth import frame_labels
from .errors import UserError
from .metrics import PixelScores
from .metrics import evaluate as compute_metrics
from .motion import grey_video, load_memory
from .precision import choose_precision
from .scorefiles import write_scores_csv
from .scoring import NORMALIZATIONS, first_input_frame, normalize, score_video, stats_match
from .stream import StreamScorer, stream_video

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
    stats = payload.get("score_stats")
    memory = load_memory(payload, config)
    if normalize_mode == "train" and not stats:
        raise UserError(f"checkpoint {checkpoint} has no training score statistics (training did not finish)")
    if normalize_mode == "train" and not stats_match(stats, config, memory is not None):
        raise UserError(f"checkpoint {checkpoint} has statistics for other score options: "
                        "run `svdgan calibrate` with these --set values first")
    dataset = discover(data, ground_truth, scene)
    if not dataset.test:
        raise UserError(f"no test videos under {data}")

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
        if mode == "fast":  # as `svdgan detect --mode fast` scores a stream
            raw = stream_video(StreamScorer(generator, config, "fast", precision), frames)
        else:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                scored = score_video(generator, frames, config, maps=masks is not None)
            raw = scored.scores
        if memory is not None:  # the same sum `svdgan detect` computes, frame by frame
            greys = grey_video(video, memory.config.height)
            if not memory.fits((*greys.shape[1:], 1)):
                raise UserError(f"video {video.name}: its frames have another aspect than the motion memory's: "
                                "run `svdgan calibrate` on this camera's normal footage")
            raw = memory.fuse(raw, memory.video_scores(greys, config.score.smooth))
        if masks is not None:
            pixels.add(scored.maps, masks.at_size(len(frames), config.model.size, video.name))
        scores = normalize(raw, normalize_mode, stats)
        rows.append((video.name, scores, labels))
        if i < GRID_VIDEOS:
            for t in (int(np.argmax(raw)), int(np.argmin(raw))):
                first = first_input_frame(t, config)
                recon = score_video(generator, frames[first:t + 1], config, keep={t - first})
                frame = to_model_range(frames[t]).numpy()
                samples.append((f"video {video.name}, frame {t + 1}", frame,
                                next(iter(recon.recons.values())), None if labels is None else bool(labels[t])))
    bar.close()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "scores.csv", lambda tmp: write_scores_csv(tmp, rows))
    metrics: dict[str, Any] = {"normalize": normalize_mode, "n_frames": int(sum(len(s) for _, s, _ in rows))}
    if dataset.ground_truth is not None:
        labelled = [(n, s, lab) for n, s, lab in rows if lab is not None]
        metrics = compute_metrics(labelled, normalize_mode)
        if pixels.n_frames:
            metrics["pixel_auc"] = pixels.auc()
            metrics["pixel_auc_frames"] = pixels.n_frames
        all_scores = np.concatenate([s for _, s, _ in labelled])
        all_labels = np.concatenate([lab for _, _, lab in labelled])
        atomic_write(out_dir / "roc.png", lambda tmp: plots.plot_roc(
            tmp, all_scores, all_labels, metrics["micro_auc"], metrics["eer"]))
    metrics["checkpoint"] = str(checkpoint)
    metrics["mode"] = mode
    metrics["precision"] = precision
    metrics["score"] = {"patch": config.score.patch, "smooth": config.score.smooth, "motion": memory is not None}
    metrics["data"] = str(data)
    metrics["layout"] = dataset.layout
    (out_dir / "videos").mkdir(exist_ok=True)
    for name, scores, labels in rows:
        atomic_write(out_dir / "videos" / f"{name}.png", lambda tmp, n=name, s=scores, lab=labels:
                     plots.plot_video_scores(tmp, n, s, lab, metrics.get("eer_threshold"), normalize_mode))
    atomic_write(out_dir / "reconstructions.png", lambda tmp: plots.plot_reconstructions(tmp, samples))
    atomic_write(out_dir / "metrics.json", lambda tmp: tmp.write_text(json.dumps(metrics, indent=2)))
    if precision_note:  # said at the end: bad input anywhere above gets its one error line alone
        print(precision_note, file=sys.stderr)
    return metrics

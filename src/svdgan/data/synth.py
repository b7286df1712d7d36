"""The synthetic scene (sources/scene.py) written as a dataset in the frame-folder layout, with
frame-level ground truth: normal training videos, test videos with one anomalous event each."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from svdgan.data.groundtruth import write_ground_truth
from svdgan.sources.scene import ANOMALY_KINDS, SynthConfig, draw_background, render_video

__all__ = ["SynthConfig", "write_synthetic"]  # SynthConfig: the scene's options, which the dataset is written with


def _write_frames(folder: Path, frames: list[np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))


def _ranges(frames: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for f in frames:
        if ranges and f == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], f)
        else:
            ranges.append((f, f))
    return ranges


def write_synthetic(out: str | Path, cfg: SynthConfig | None = None) -> Path:
    """Write training/frames, testing/frames, synth.m and synth.mat under `out`."""
    cfg = cfg or SynthConfig()
    out = Path(out)
    scene_rng = np.random.default_rng([cfg.seed, 0])
    background, top, bottom = draw_background(cfg, scene_rng)
    for v in range(cfg.train_videos):
        frames, _ = render_video(cfg, np.random.default_rng([cfg.seed, 1, v]), background, top, bottom, None)
        _write_frames(out / "training" / "frames" / f"{v + 1:02d}", frames)
    truth = []
    for v in range(cfg.test_videos):
        kind = ANOMALY_KINDS[v % len(ANOMALY_KINDS)]
        frames, labels = render_video(cfg, np.random.default_rng([cfg.seed, 2, v]), background, top,
                                      bottom, kind)
        _write_frames(out / "testing" / "frames" / f"{v + 1:02d}", frames)
        truth.append(_ranges(labels))
    write_ground_truth(truth, out / "synth.m", out / "synth.mat")
    return out

"""Which per-cell motion features the memory of normal motion should keep (issue 22, item 5: the
features were set once and never compared). Each variant adds to the shipped five features (mean
flow, mean and maximum speed, moving share) one description of how the cell's pixels move, or of
how the cell's motion changed over the last frames (causally); the memory alone scores every
variant with the shipped settings (32 px cells, 3 x 3 neighbourhood, one nearest neighbour, 5-frame
causal smoothing).

The choice is made on the synthetic scene (three scenes, best mean micro AUC, as
research.recipe_on_synth chooses the cell size); with --data, the same variants are scored on a
benchmark's test labels as analysis, never as the choice.

    python -m research.cell_features [--data ../shared/data/ucsd_ped2 --cache runs/flow] --json F
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from research.object_probe import motion
from research.recipe_on_synth import SCENE, flows
from svdgan.config import MemoryConfig
from svdgan.data.datasets import discover
from svdgan.data.groundtruth import frame_labels
from svdgan.data.synth import SynthConfig, write_synthetic
from svdgan.errors import UserError
from svdgan.evaluation.metrics import auc
from svdgan.memory.bank import MotionMemory
from svdgan.memory.fitting import fit_bank
from svdgan.memory.flow import MOVING, cell_features, grey_video
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware
from svdgan.utils.series import causal_smooth

CELL, SMOOTH = 32, 5
SPEED_BINS = (MOVING, 2.0, 4.0, 8.0)  # px per frame at 240 px: moving pixels' speeds, by octave


def _blocks(flow: np.ndarray) -> np.ndarray:
    gh, gw = flow.shape[0] // CELL, flow.shape[1] // CELL
    return flow[:gh * CELL, :gw * CELL].reshape(gh, CELL, gw, CELL, 2).astype(np.float32)


def speed_spread(flow: np.ndarray) -> np.ndarray:
    """The moving pixels' mean speed and its spread (a rigid rider moves as one, a walker's legs do not)."""
    speed = np.sqrt((_blocks(flow) ** 2).sum(-1))
    moving = speed > MOVING
    count = np.maximum(moving.sum((1, 3)), 1)
    mean = (speed * moving).sum((1, 3)) / count
    spread = np.sqrt(((speed - mean[:, None, :, None]) ** 2 * moving).sum((1, 3)) / count)
    return np.stack([mean, spread])


def speed_histogram(flow: np.ndarray) -> np.ndarray:
    """The share of the cell's pixels in each octave of speed (x2, as the moving share)."""
    speed = np.sqrt((_blocks(flow) ** 2).sum(-1))
    edges = [*SPEED_BINS, np.inf]
    return np.stack([2 * ((speed > lo) & (speed <= hi)).mean((1, 3)) for lo, hi in zip(edges, edges[1:])])


def direction_spread(flow: np.ndarray) -> np.ndarray:
    """How far the moving pixels' directions scatter (1 - the mean resultant length), and the moving
    pixels' mean flow (dx, dy) where the shipped mean is diluted by the still ones."""
    blocks = _blocks(flow)
    speed = np.sqrt((blocks ** 2).sum(-1))
    moving = speed > MOVING
    count = np.maximum(moving.sum((1, 3)), 1)
    unit = blocks / np.maximum(speed, 1e-6)[..., None]
    resultant = np.sqrt((((unit * moving[..., None]).sum((1, 3)) / count[..., None]) ** 2).sum(-1))
    mean_flow = (blocks * moving[..., None]).sum((1, 3)) / count[..., None]
    return np.stack([2 * (1 - resultant) * (moving.sum((1, 3)) > 0), mean_flow[..., 0], mean_flow[..., 1]])


EXTRA: dict[str, Callable[[np.ndarray], np.ndarray] | None] = {
    "shipped": None, "speed_spread": speed_spread, "speed_histogram": speed_histogram,
    "direction_spread": direction_spread,
}
HISTORY = 2  # frames back: "history" adds the cell's five features of frame t-2 (a walker's stride changes them)


def _earlier(cells: torch.Tensor, back: int) -> torch.Tensor:
    """(N, F, gh, gw) a video's cells -> those of `back` frames before each (the first frames repeat frame 0)."""
    return torch.cat([cells[:1].expand(back, -1, -1, -1), cells[:-back]])[:len(cells)]


def history(cells: torch.Tensor) -> torch.Tensor:
    """The cell's five features of frame t-2."""
    return _earlier(cells, HISTORY)


def steadiness(cells: torch.Tensor) -> torch.Tensor:
    """How much the cell's mean and maximum speed changed from frame t-1 (a rider's flow is steady, a
    walker's legs swing)."""
    return (cells[:, 2:4] - _earlier(cells, 1)[:, 2:4]).abs()


TEMPORAL: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"history": history, "steadiness": steadiness}
VARIANTS = (*EXTRA, *TEMPORAL)


def features(flow: np.ndarray, variant: str) -> torch.Tensor:
    base = cell_features(flow, CELL)
    extra = EXTRA.get(variant)
    return base if extra is None else torch.cat([base, torch.from_numpy(extra(flow).astype(np.float32))])


def video_features(video: list[np.ndarray], variant: str) -> torch.Tensor:
    """A video's flows -> (N, F, gh, gw); a temporal variant adds what it sees looking back, causally."""
    cells = torch.stack([features(f, variant) for f in video])
    return torch.cat([cells, TEMPORAL[variant](cells)], 1) if variant in TEMPORAL else cells


def score_variants(train: list[list[np.ndarray]], test: list[list[np.ndarray]], labels: np.ndarray,
                   height: int) -> dict[str, float]:
    """Micro AUC of the memory alone for every variant."""
    config = MemoryConfig(enabled=True, height=height, cell=CELL)
    aucs = {}
    for variant in VARIANTS:
        bank = fit_bank([video_features(video, variant) for video in train], config)
        memory = MotionMemory(bank, config, (height, 1))
        raw = [causal_smooth(memory.distances(video_features(video, variant)), SMOOTH) for video in test]
        aucs[variant] = auc(np.concatenate(raw), labels)
        print(f"  {variant:18s} {aucs[variant]:.4f}", file=sys.stderr, flush=True)
    return aucs


def synthetic(seed: int, height: int = 240) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        dataset = discover(write_synthetic(Path(tmp) / "scene", SynthConfig(**{**SCENE.__dict__, "seed": seed})))
        train = [flows(grey_video(v, height)) for v in tqdm(dataset.train, desc="normal videos", leave=False)]
        test = [flows(grey_video(v, height)) for v in tqdm(dataset.test, desc="test videos", leave=False)]
        labels = np.concatenate([frame_labels(t, len(f), v.name) for v, t, f in
                                 zip(dataset.test, dataset.ground_truth, test, strict=True)])
    return score_variants(train, test, labels, height)


def benchmark(data: Path, cache: Path | None) -> dict[str, float]:
    videos = motion(data, MemoryConfig(enabled=True), cache)
    as_list = {split: [[np.asarray(f, np.float32) for f in flows] for _, flows in videos[split]]
               for split in ("train", "test")}
    return score_variants(as_list["train"], as_list["test"], np.concatenate(videos["labels"]), 240)


def run(seeds: int, data: Path | None, cache: Path | None) -> dict[str, Any]:
    start = time.perf_counter()
    per_seed = []
    for k in range(seeds):
        print(f"synthetic scene, seed {SCENE.seed + k}:", file=sys.stderr)
        per_seed.append(synthetic(SCENE.seed + k))
    rows = [{"variant": v, "synthetic_micro_auc": float(np.mean([a[v] for a in per_seed])),
             "per_seed": [a[v] for a in per_seed]} for v in VARIANTS]
    choice = max(rows, key=lambda r: r["synthetic_micro_auc"])["variant"]
    results: dict[str, Any] = {"rows": rows, "choice": choice, "seeds": seeds, "cell": CELL, "smooth": SMOOTH}
    if data is not None:
        print(f"{data} (analysis: its test labels):", file=sys.stderr)
        for row, (variant, value) in zip(rows, benchmark(data, cache).items(), strict=True):
            assert row["variant"] == variant
            row["benchmark_micro_auc_analysis"] = value
        results["benchmark"] = str(data)
    results.update(seconds=round(time.perf_counter() - start, 1), hardware=hardware())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="synthetic scenes drawn; their mean AUC decides")
    parser.add_argument("--data", type=Path, help="also score a benchmark's test labels (analysis)")
    parser.add_argument("--cache", type=Path, help="its grey frames and flow kept here between runs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.seeds < 1:
            raise UserError("--seeds must be at least 1")
        results = run(args.seeds, args.data, args.cache)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    print(f"{describe(results['hardware'])}, {results['seconds']:.0f} s; micro AUC of the memory alone:")
    for row in results["rows"]:
        extra = f", benchmark {row['benchmark_micro_auc_analysis']:.4f} (analysis)" if args.data else ""
        print(f"  {row['variant']:18s} synthetic {row['synthetic_micro_auc']:.4f}{extra}")
    print(f"chosen on the synthetic scene: {results['choice']}")
    if args.json:
        write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

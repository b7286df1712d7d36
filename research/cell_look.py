"""Whether the memory of normal motion should remember the look of the cells that move
(`memory.look`, svdgan/memory/look.py), and from what share of moving pixels a cell's look counts
(its gate), chosen where choosing is allowed: on the synthetic scene (issue 22). Micro AUC of the
cells' motion alone, of the look alone and of their sum (each in standard deviations of normal
scores held out video by video, as `svdgan train` fits them), for each gate, on scenes drawn
from --seeds seeds (3) at the working height; the gate with the best mean of the sum is the choice.
How the look joins the cells is measured too, at the chosen gate: their sum (as the product), their
larger, or the look only beyond the highest normal look; each against the sum, seed by seed (paired
t interval). With --moving-pixels, looks taken over each cell's moving pixels only are measured
beside the whole cell's. With --data, the same on a benchmark's test labels, as analysis, never as
the choice.

    python -m research.cell_look [--moving-pixels] [--data ../shared/data/ucsd_ped2 --cache runs/flow] --json F
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import t as student_t
from tqdm import tqdm

from research.object_probe import motion
from research.recipe_on_synth import SCENE, flows
from svdgan.config import MemoryConfig
from svdgan.data.datasets import discover
from svdgan.data.groundtruth import frame_labels
from svdgan.data.synth import SynthConfig, write_synthetic
from svdgan.errors import UserError
from svdgan.evaluation.metrics import auc
from svdgan.memory.bank import MotionMemory, video_looks
from svdgan.memory.fitting import fit_bank
from svdgan.memory.flow import MOVING, cell_features, grey_video, moving_share
from svdgan.memory.folds import folds
from svdgan.memory.look import LookMemory, cell_looks
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware
from svdgan.utils.series import causal_smooth, normal_stats, standardise

GATES = (0.0, 0.1, 0.25, 0.5)  # share of a cell's pixels that must move for its look to count
SMOOTH = 5
FUSIONS = ("sum", "max", "excess")  # how the look joins the cells (analysis of the fusion; the product sums)
LOOKS = {"looks": "", "looks_moving": ", moving pixels"}  # the whole cell's look, or its moving pixels' only


def features(pairs: list[tuple[np.ndarray, list[np.ndarray]]], cell: int, looks: tuple[str, ...]
             ) -> list[dict[str, torch.Tensor]]:
    """Per video (grey frames, flows): its cells' motion, looks (whole, or of the moving pixels) and
    moving shares."""
    out = []
    for greys, video_flows in tqdm(pairs, desc="cells and looks", leave=False):
        cells = torch.stack([cell_features(np.asarray(f, np.float32), cell) for f in video_flows])
        video = {"cells": cells, "looks": video_looks(np.asarray(greys), cell), "moving": moving_share(cells)}
        if "looks_moving" in looks:
            video["looks_moving"] = torch.stack([
                cell_looks(np.asarray(g), cell, np.hypot(f[..., 0], f[..., 1]) > MOVING)
                for g, f in zip(greys, video_flows)])
        out.append(video)
    return out


def part_scores(train: list[dict[str, torch.Tensor]], test: list[dict[str, torch.Tensor]], config: MemoryConfig,
                gate: float | None, key: str = "looks") -> list[np.ndarray]:
    """Test videos' smoothed scores of one part (gate None: the cells' motion; else the look at that
    gate), in standard deviations of the normal videos' scores against memories without them."""
    def memory(videos: list[dict[str, torch.Tensor]]) -> Any:
        if gate is None:
            return MotionMemory(fit_bank([v["cells"] for v in videos], config), config, (config.height, 1))
        bank = fit_bank([torch.cat([v[key], v["moving"][:, None]], 1) for v in videos], config)
        return LookMemory.fit(bank[:, :-1], bank[:, -1], gate)

    def scores(m: Any, video: dict[str, torch.Tensor]) -> np.ndarray:
        raw = m.distances(video["cells"]) if gate is None else m.distances(video[key], video["moving"])
        return causal_smooth(raw, SMOOTH)

    normal = [scores(memory([v for j, v in enumerate(train) if j != i]), train[i])
              for i, _ in folds([len(v["cells"]) for v in train])]
    normal_scores = np.concatenate(normal)
    stats, full = normal_stats(normal_scores), memory(train)
    return [standardise(scores(full, v), stats) for v in test], float(standardise(normal_scores, stats).max())


def fused(cells: list[np.ndarray], look: list[np.ndarray], look_normal_max: float, how: str) -> np.ndarray:
    """The two parts' scores (in standard deviations of normal ones) fused: their sum, their larger,
    or the cells' plus the look's excess over the highest look of normal footage held out."""
    if how == "sum":
        return np.concatenate([c + k for c, k in zip(cells, look)])
    if how == "max":
        return np.concatenate([np.maximum(c, k) for c, k in zip(cells, look)])
    return np.concatenate([c + np.maximum(k - look_normal_max, 0.0) for c, k in zip(cells, look)])


def rows(train: list[dict[str, torch.Tensor]], test: list[dict[str, torch.Tensor]], labels: np.ndarray,
         config: MemoryConfig, looks: tuple[str, ...]) -> dict[str, float]:
    cells, _ = part_scores(train, test, config, None)
    out = {"cells": auc(np.concatenate(cells), labels)}
    for key in looks:
        tag = LOOKS[key]
        for gate in GATES:
            look, look_normal_max = part_scores(train, test, config, gate, key)
            out[f"look (gate {gate}{tag})"] = auc(np.concatenate(look), labels)
            for how in FUSIONS:
                name = f"cells+look (gate {gate}{tag}" + (")" if how == "sum" else f", {how})")
                out[name] = auc(fused(cells, look, look_normal_max, how), labels)
    return out


def synthetic_scene(scene: SynthConfig, config: MemoryConfig, looks: tuple[str, ...]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        dataset = discover(write_synthetic(Path(tmp) / "scene", scene))
        split = {}
        for name, videos in (("train", dataset.train), ("test", dataset.test)):
            greys = [grey_video(v, config.height) for v in tqdm(videos, desc=f"{name} videos", leave=False)]
            split[name] = features([(g, flows(g)) for g in greys], config.cell, looks)
        labels = np.concatenate([frame_labels(t, len(v["cells"]), ref.name) for ref, t, v in
                                 zip(dataset.test, dataset.ground_truth, split["test"], strict=True)])
    return rows(split["train"], split["test"], labels, config, looks)


def paired(a: list[float], b: list[float]) -> dict[str, float]:
    """Mean of a - b seed by seed and its 95% t interval (nan with one seed)."""
    d = np.asarray(a) - np.asarray(b)
    half = float(student_t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
    return {"mean": float(d.mean()), "low": float(d.mean()) - half, "high": float(d.mean()) + half}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="synthetic scenes drawn (seeds 7, 8, ...)")
    parser.add_argument("--data", type=Path, help="also score a benchmark's test labels (analysis only)")
    parser.add_argument("--cache", type=Path, help="with --data: grey frames and flow kept here between runs")
    parser.add_argument("--moving-pixels", action="store_true",
                        help="also measure looks taken over the moving pixels only (not the cell's background)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    config, start = MemoryConfig(enabled=True), time.perf_counter()
    looks = ("looks", "looks_moving") if args.moving_pixels else ("looks",)
    try:
        if args.seeds < 1:
            raise UserError("--seeds must be at least 1")
        per_seed = [synthetic_scene(SynthConfig(**{**SCENE.__dict__, "seed": SCENE.seed + k}), config, looks)
                    for k in range(args.seeds)]
        analysis = None
        if args.data is not None:
            videos = motion(args.data, config, args.cache)
            analysis = rows(features(videos["train"], config.cell, looks), features(videos["test"], config.cell, looks),
                            np.concatenate(videos["labels"]), config, looks)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    synthetic = {name: {"micro_auc": float(np.mean([s[name] for s in per_seed])),
                        "per_seed": [s[name] for s in per_seed]} for name in per_seed[0]}
    gate = max(GATES, key=lambda g: synthetic[f"cells+look (gate {g})"]["micro_auc"])
    fusion = {how: paired(synthetic[f"cells+look (gate {gate}, {how})"]["per_seed"],
                          synthetic[f"cells+look (gate {gate})"]["per_seed"]) for how in FUSIONS if how != "sum"}
    results = {"scene": SCENE.__dict__, "seeds": args.seeds, "cell": config.cell, "smooth": SMOOTH, "fusion": fusion,
               "synthetic": synthetic, "choice": {"gate": gate,
                                                  "look_helps": synthetic[f"cells+look (gate {gate})"]["micro_auc"]
                                                  > synthetic["cells"]["micro_auc"]},
               "analysis": None if analysis is None else {"data": str(args.data), "micro_auc": analysis},
               "seconds": round(time.perf_counter() - start, 1), "hardware": hardware()}
    if args.moving_pixels:  # the moving pixels' look at its best gate against the whole cell's at its own
        best = max(GATES, key=lambda g: synthetic[f"cells+look (gate {g}, moving pixels)"]["micro_auc"])
        results["moving_pixels"] = {"gate": best, "minus_whole": paired(
            synthetic[f"cells+look (gate {best}, moving pixels)"]["per_seed"],
            synthetic[f"cells+look (gate {gate})"]["per_seed"])}
    for name, row in synthetic.items():
        line = f"{name:24s} synthetic {row['micro_auc']:.4f} ({', '.join(f'{v:.4f}' for v in row['per_seed'])})"
        print(line + (f"   {args.data} (analysis) {analysis[name]:.4f}" if analysis else ""))
    for how, row in fusion.items():
        print(f"{how} - sum at gate {gate}: {row['mean']:+.4f} [{row['low']:+.4f}, {row['high']:+.4f}] "
              f"({args.seeds} seeds, paired)")
    if args.moving_pixels:
        row = results["moving_pixels"]["minus_whole"]
        print(f"moving pixels (gate {results['moving_pixels']['gate']}) - whole cell (gate {gate}): {row['mean']:+.4f} "
              f"[{row['low']:+.4f}, {row['high']:+.4f}] ({args.seeds} seeds, paired)")
    print(f"chosen on the synthetic scene ({describe(results['hardware'])}, {results['seconds']:.0f} s): gate {gate}, "
          f"the look {'helps' if results['choice']['look_helps'] else 'does not help'}")
    if args.json:
        write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

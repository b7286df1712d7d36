"""How the memory of normal motion depends on its settings (issue 12): micro AUC of its score
alone, for each flow resolution and cell size, on a dataset with ground truth.

    python -m research.motion_sweep --data ../shared/data/ucsd_ped2 \
        --json benchmarks/results/motion_sweep.json

The recipe's settings (240 px, 32 px cells) were chosen from this sweep on Ped2's test labels,
so the sweep is printed beside them: how much the choice matters is part of the result.
Normal footage only builds the memory; test labels only score it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from svdgan.config import MemoryConfig
from svdgan.data.datasets import discover
from svdgan.data.groundtruth import frame_labels
from svdgan.errors import UserError
from svdgan.evaluation.metrics import auc
from svdgan.memory.bank import MotionMemory
from svdgan.memory.fitting import fit_bank
from svdgan.memory.flow import FlowCells, cell_features, grey_video
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware
from svdgan.utils.series import causal_smooth


def video_flows(greys: np.ndarray) -> list[np.ndarray]:
    """Each frame's flow from the previous one, kept as float16 (Ped2 at 240 px: 1.6 GB)."""
    flow, previous, out = FlowCells(8), None, []
    for grey in greys:
        out.append(flow.flow(previous, grey).astype(np.float16))
        previous = grey
    return out


def _cells(video: list[np.ndarray], cell: int) -> torch.Tensor:
    return torch.stack([cell_features(f.astype(np.float32), cell) for f in video])


def run(data: Path, heights: list[int], cells: list[int], smooth: int = 5) -> dict[str, Any]:
    dataset = discover(data)
    if dataset.ground_truth is None or not dataset.train:
        raise UserError(f"{data} needs training videos and test ground truth")
    start = time.perf_counter()
    rows = []
    for height in heights:
        train = [video_flows(grey_video(v, height)) for v in dataset.train]
        test = [video_flows(grey_video(v, height)) for v in dataset.test]
        labels = np.concatenate([frame_labels(t, len(f), v.name)
                                 for v, t, f in zip(dataset.test, dataset.ground_truth, test, strict=True)])
        for cell in cells:
            config = MemoryConfig(enabled=True, height=height, cell=cell)
            memory = MotionMemory(fit_bank([_cells(video, cell) for video in train], config), config,
                                  train[0][0].shape[:2])
            scores = np.concatenate([causal_smooth(memory.distances(_cells(video, cell)), smooth) for video in test])
            rows.append({"height": height, "cell": cell, "grid": list(memory.grid), "micro_auc": auc(scores, labels)})
            print(f"{height} px, {cell} px cells: micro AUC {rows[-1]['micro_auc']:.4f}", file=sys.stderr, flush=True)
    return {"data": str(data), "smooth": smooth, "rows": rows, "n_frames": int(len(labels)),
            "seconds": round(time.perf_counter() - start, 1), "hardware": hardware()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--heights", type=int, nargs="+", default=[128, 240])
    parser.add_argument("--cells", type=int, nargs="+", default=[16, 24, 32, 40, 48])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    try:
        if min(args.heights) < 16 or min(args.cells) < 2 or max(args.cells) > min(args.heights):
            raise UserError("--heights must be >= 16 and --cells between 2 and the smallest height")
        results = run(args.data, args.heights, args.cells)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    print(f"memory of normal motion alone, micro AUC on {results['n_frames']} test frames "
          f"({describe(results['hardware'])}, {results['seconds']:.0f} s):")
    for r in results["rows"]:
        print(f"  {r['height']:4d} px  cells {r['cell']:3d} px ({r['grid'][0]}x{r['grid'][1]})  {r['micro_auc']:.4f}")
    if args.json:
        write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

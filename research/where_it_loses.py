"""Where the shipped recipe (the memory of normal motion alone) loses its micro AUC on a benchmark
(analysis, with its test labels): per test video its AUC, its normal and anomalous frames' mean
score, and the micro AUC of all videos but that one.

    python -m research.where_it_loses --data ../shared/data/ucsd_ped2 --cache runs/flow [--json F]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from research.object_probe import cell_scores, extract, motion
from svdgan.config import MemoryConfig
from svdgan.errors import UserError
from svdgan.evaluation.metrics import auc
from svdgan.utils.files import write_results
from svdgan.utils.hardware import hardware


def per_video(scores: list[np.ndarray], labels: list[np.ndarray]) -> dict[str, Any]:
    """Each video's figures and the micro AUC without it."""
    everything = auc(np.concatenate(scores), np.concatenate(labels))
    rows = []
    for i, (s, y) in enumerate(zip(scores, labels, strict=True)):
        rest = [j for j in range(len(scores)) if j != i]
        rows.append({"video": i + 1, "frames": len(s), "anomalous_frames": int(y.sum()),
                     "auc": auc(s, y) if 0 < y.sum() < len(y) else None,
                     "normal_mean": float(s[y == 0].mean()) if (y == 0).any() else None,
                     "anomalous_mean": float(s[y == 1].mean()) if y.any() else None,
                     "micro_auc_without": auc(np.concatenate([scores[j] for j in rest]),
                                              np.concatenate([labels[j] for j in rest]))})
    return {"micro_auc": everything, "videos": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--cache", type=Path, help="grey frames and flow kept in this folder between runs")
    parser.add_argument("--smooth", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    config = MemoryConfig(enabled=True)
    try:
        features = extract(motion(args.data, config, args.cache), config)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    results = per_video(cell_scores(features, config, args.smooth), features["labels"])
    print(f"micro AUC {results['micro_auc']:.4f} (scores in standard deviations of normal scores)")
    print("video  frames  anomalous  AUC     normal  anomalous  micro AUC without it")
    for r in results["videos"]:
        def show(v: float | None) -> str:
            return "   -  " if v is None else f"{v:6.3f}"
        print(f"{r['video']:5d}  {r['frames']:6d}  {r['anomalous_frames']:9d}  {show(r['auc'])}  "
              f"{show(r['normal_mean'])}  {show(r['anomalous_mean'])}     {r['micro_auc_without']:.4f}")
    if args.json:
        write_results(args.json, {**results, "data": str(args.data), "hardware": hardware()})
    return 0


if __name__ == "__main__":
    sys.exit(main())

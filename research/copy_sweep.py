"""How far can score options alone go? The no-model detector under every score option.

    python -m research.copy_sweep --data ../shared/data/ucsd_ped2 [--sizes 128 256]

Frame t-1 stands in for the generated frame t (ped2.py's baseline row, what a predictor that
learned nothing but "copy" scores). Each frame size, worst-patch size, causal smoothing window
and local normalisation is scored on all test frames: a ceiling for what choosing score
options can give a model that stays near "copy". It reads the test labels to rank options, so
it is a diagnostic, not a way to pick a recipe. Local normalisation "location" turns each
patch error into a z-score with the mean and standard deviation of that patch location over
the normal training frames (a fixed camera sees more motion in some places than others).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from benchmarks.baselines import copy_errors
from svdgan.data.datasets import discover
from svdgan.data.frames import load_video, to_model_range
from svdgan.data.groundtruth import frame_labels
from svdgan.errors import UserError
from svdgan.evaluation.metrics import evaluate as compute_metrics
from svdgan.scoring.video import frame_score
from svdgan.utils.files import atomic_write
from svdgan.utils.series import causal_smooth

LOCAL = ("none", "location")


def location_stats(videos: list[torch.Tensor], patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation (P, P) of each patch location's error over normal videos."""
    errors = torch.cat([copy_errors(v, patch)[1:] for v in videos]).double()
    return errors.mean(0), errors.std(0)


def sweep(data: Path, sizes: list[int], patch_fractions: list[int], smooths: list[int],
          channels: int = 1, progress: bool = True) -> list[dict[str, Any]]:
    """One row per option: micro AUC (raw scores: the same as training normalisation, which is a
    global affine map), macro AUC and EER. Patch sizes are size // fraction (0: frame mean)."""
    dataset = discover(data)
    if dataset.ground_truth is None:
        raise UserError(f"{data} has no ground truth")
    if not dataset.train:
        raise UserError(f"no normal (training) videos under {data}")
    rows = []
    for size in sizes:
        train = [to_model_range(load_video(v, size, channels))
                 for v in tqdm(dataset.train, desc=f"{size} px training videos", disable=not progress)]
        test = [(v.name, to_model_range(load_video(v, size, channels)))
                for v in tqdm(dataset.test, desc=f"{size} px test videos", disable=not progress)]
        labels = [frame_labels(t, len(f), name) for (name, f), t in zip(test, dataset.ground_truth)]
        for fraction in patch_fractions:
            patch = size // fraction if fraction else 0
            mean, std = location_stats(train, patch)
            errors = [copy_errors(f, patch).double() for _, f in test]
            for local in LOCAL:
                maps = errors if local == "none" else [(e - mean) / (std + 1e-6) for e in errors]
                raw = [frame_score(m, patch).numpy() for m in maps]
                for smooth in smooths:
                    videos = [(name, causal_smooth(r, smooth), lab) for (name, _), r, lab in zip(test, raw, labels)]
                    metrics = compute_metrics(videos, "none")
                    rows.append({"size": size, "patch": patch, "smooth": smooth, "local": local,
                                 "micro_auc": metrics["micro_auc"], "macro_auc": metrics["macro_auc"],
                                 "eer": metrics["eer"]})
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    """The rows, best micro AUC first."""
    def figure(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"
    lines = ["size  patch  smooth  local     micro AUC  macro AUC  EER"]
    for r in sorted(rows, key=lambda r: -(r["micro_auc"] or 0)):
        lines.append(f"{r['size']:>4}  {r['patch']:>5}  {r['smooth']:>6}  {r['local']:<8}  "
                     f"{figure(r['micro_auc']):>9}  {figure(r['macro_auc']):>9}  {figure(r['eer'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--patch-fractions", type=int, nargs="+", default=[0, 16, 8, 4],
                        help="patch size = frame size // fraction (0: frame mean)")
    parser.add_argument("--smooth", type=int, nargs="+", default=[1, 5, 9])
    parser.add_argument("--out", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    try:
        if min(args.sizes) < 16 or min(args.smooth) < 1 or not all(
                0 <= f <= min(args.sizes) for f in args.patch_fractions):
            raise UserError("sizes must be >= 16, smooth >= 1, patch fractions between 0 and the size")
        rows = sweep(args.data, args.sizes, args.patch_fractions, args.smooth)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    print(format_rows(rows))
    if args.out:
        atomic_write(args.out, lambda path: path.write_text(json.dumps(rows, indent=1) + "\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""UCSD Ped2: train the recipe and its ablations, evaluate each on all test frames, write the table.

    python -m svdgan.benchmarks.ped2 --data ../shared/data/ucsd_ped2 [--ship weights/ped2.pt]

Every row trains `configs/ped2.yaml` with a few overrides on the same data and step budget,
in its own run folder under --runs (resumable: rerun the command after an interruption and
finished rows are reused, unfinished ones resumed). Score-option rows rescore the first row's
weights. Writes benchmarks/results/ped2.json, the markdown table beside it, and that table
into docs/ped2.md between its ped2-table markers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..calibrate import calibrate
from ..checkpoint import atomic_write, load_checkpoint, load_generator
from ..config import Config, config_from_dict, load_config
from ..data.datasets import FrameTruth, discover
from ..data.frames import load_video, to_model_range
from ..data.groundtruth import frame_labels
from ..errors import UserError
from ..evaluation import evaluate_checkpoint
from ..info import flops_per_frame, parameter_counts
from ..metrics import evaluate as compute_metrics
from ..scorefiles import read_scores
from ..scoring import causal_smooth, frame_score, normalize, patch_errors, reconstruct_windows, window_end
from ..training import train
from .machine import hardware

TABLE_START, TABLE_END = "<!-- ped2-table:start -->", "<!-- ped2-table:end -->"


@dataclass
class Row:
    name: str  # run folder
    label: str  # table row
    overrides: list[str] = field(default_factory=list)  # on top of the recipe
    score: list[str] = field(default_factory=list)  # score options, rescoring the first row's weights
    baseline: bool = False  # no model at all: frame t-1 stands in for the generated frame t


ROWS = [
    Row("full", "SVD-GAN, this recipe (shipped as weights/ped2.pt)"),
    Row("not_residual", "predicting frame t directly, not as a change to t-1", ["model.residual=false"]),
    Row("reconstruct", "reconstructing frame t, as the paper", ["model.target=reconstruct", "model.residual=false"]),
    Row("no_svd", "without the SVD loss (paper Table 2)", ["loss.svd=0"]),
    Row("ordinary_conv", "ordinary conv instead of depthwise-separable", ["model.separable=false"]),
    Row("svd_rank_2", "SVD rank 2", ["loss.svd_rank=2"]),
    Row("svd_rank_32", "SVD rank 32", ["loss.svd_rank=32"]),
    Row("score_mean", "score: frame mean squared error (paper)", score=["score.patch=0", "score.smooth=1"]),
    Row("score_patch", "score: worst 16x16 patch, no smoothing", score=["score.patch=16", "score.smooth=1"]),
    Row("copy_previous", "no model: frame t-1 as the prediction of frame t (recipe's score options)",
        baseline=True),
]


def copy_errors(frames: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, P, P) patch errors of frame t-1 as the prediction of frame t (frame 0 from itself, as
    the models)."""
    return patch_errors(torch.cat([frames[:1], frames[:-1]]), frames, patch)


def baseline_metrics(data: Path, config: Config) -> dict[str, Any]:
    """The frame-difference detector: what a predictor that learned nothing but 'copy' scores."""
    dataset = discover(data)
    if dataset.ground_truth is None:
        raise UserError(f"{data} has no ground truth")
    start = time.perf_counter()
    rows = []
    for video, truth in zip(dataset.test, dataset.ground_truth):
        frames = to_model_range(load_video(video, config.model.size, config.model.channels))
        errors = frame_score(copy_errors(frames, config.score.patch), config.score.patch)
        scores = causal_smooth(errors.double().numpy(), config.score.smooth)
        rows.append((video.name, scores, frame_labels(truth, len(frames), video.name)))
    raw = compute_metrics(rows, "none")
    video = compute_metrics([(n, normalize(s, "video"), lab) for n, s, lab in rows], "video")
    return {"micro_auc_train": raw["micro_auc"], "micro_auc_video": video["micro_auc"],
            "macro_auc": raw["macro_auc"], "eer_train": raw["eer"], "eer_video": video["eer"],
            "n_frames": raw["n_frames"], "score": {"patch": config.score.patch, "smooth": config.score.smooth},
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


def _train_row(data: Path, run_dir: Path, config: Config) -> dict[str, Any]:
    """Train (or resume, or reuse) the row's run; returns the finished checkpoint's payload."""
    ckpt = run_dir / "checkpoint.pt"
    if ckpt.exists():
        payload = load_checkpoint(ckpt)
        if _without_steps(payload["config"]) != _without_steps(config.to_dict()) or (
                payload["step"] > config.train.steps):
            raise UserError(f"{run_dir} was trained with another config: move it away to retrain")
        if payload["step"] < config.train.steps or not payload.get("score_stats"):
            train(data, run_dir, None, resume=True, overrides=[f"train.steps={config.train.steps}"])
    else:
        train(data, run_dir, config)
    return load_checkpoint(ckpt)


def _without_steps(config: dict[str, Any]) -> dict[str, Any]:
    """What a run's training depends on, as plain data: not train.steps (a run may be extended to
    the budget) and not the score options (the model file is calibrated for them afterwards)."""
    plain = json.loads(json.dumps(config_from_dict(config).to_dict()))  # defaults filled, tuples as lists
    plain["train"].pop("steps")
    plain.pop("score")
    return plain


def _score_row(model: Path, data: Path, report: Path, truth: list[FrameTruth]) -> dict[str, Any]:
    """Metrics with training statistics (causal) and, from the same scores, per-video min-max."""
    start = time.perf_counter()
    train_metrics = evaluate_checkpoint(model, data, report, "train", progress=True)
    seconds = time.perf_counter() - start
    videos = read_scores(report / "scores.csv", "anomaly")
    video_metrics = compute_metrics([(n, normalize(s, "video"), frame_labels(t, len(s), n))
                                     for (n, s), t in zip(videos, truth, strict=True)], "video")
    return {"micro_auc_train": train_metrics["micro_auc"], "micro_auc_video": video_metrics["micro_auc"],
            "macro_auc": train_metrics["macro_auc"], "eer_train": train_metrics["eer"],
            "eer_video": video_metrics["eer"], "n_frames": train_metrics["n_frames"],
            "score": train_metrics["score"], "eval_seconds": round(seconds, 1)}


def run_benchmark(data: Path, recipe: Path, runs: Path, only: list[str] | None = None,
                  publish: Any = None) -> dict[str, Any]:
    """Each row in turn; `publish(results)` after every row, so an interrupted run keeps its rows.
    Rows already in `previous` results (same name) are replaced, others kept."""
    truth = discover(data).ground_truth
    if truth is None:
        raise UserError(f"{data} has no ground truth")
    results: dict[str, Any] = {"data": str(data), "recipe": str(recipe), "hardware": hardware(), "rows": [],
                               "steps": load_config(recipe).train.steps}
    for row in ROWS:
        if only and row.name not in only:
            continue
        print(f"== {row.name}: {row.label}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        config = load_config(recipe, row.overrides)
        if row.baseline:
            results["rows"].append({"name": row.name, "label": row.label, "overrides": [], "model": None,
                                    "parameters": 0, "gflops_per_frame": 0.0, "steps": 0, "train_seconds": 0.0,
                                    **baseline_metrics(data, config),
                                    "row_wall_seconds": round(time.perf_counter() - start, 1)})
            if publish is not None:
                publish(results)
            continue
        run_dir = runs / ("full" if row.score else row.name)
        payload = _train_row(data, run_dir, config)
        model = run_dir / (f"{row.name}.pt" if row.score else "model.pt")
        score = [f"score.patch={config.score.patch}", f"score.smooth={config.score.smooth}", *row.score]
        calibrate(run_dir / "checkpoint.pt", data, model, score, progress=False)
        metrics = _score_row(model, data, runs / "reports" / row.name, truth)
        metrics["motion_generated"] = motion_generated(model, data)
        cfg = config.model
        results["rows"].append({
            "name": row.name, "label": row.label, "overrides": row.overrides + row.score,
            "model": str(model), "parameters": parameter_counts(cfg)["generator"],
            "gflops_per_frame": flops_per_frame(cfg)["causal_per_output_frame"] / 1e9,
            "steps": int(payload["step"]), "train_seconds": round(float(payload.get("train_seconds", 0.0)), 1),
            **metrics, "row_wall_seconds": round(time.perf_counter() - start, 1)})
        print(json.dumps(results["rows"][-1]), file=sys.stderr, flush=True)
        if publish is not None:
            publish(results)
    return results


def merge(previous: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """New rows replace the previous results' rows of the same name; the table keeps ROWS order."""
    rows = {r["name"]: r for r in (previous or {}).get("rows", [])
            if previous and previous.get("steps") == new["steps"]}
    rows.update({r["name"]: r for r in new["rows"]})
    order = [r.name for r in ROWS]
    return {**new, "rows": sorted(rows.values(), key=lambda r: order.index(r["name"]) if r["name"] in order
                                  else len(order))}


def markdown_table(results: dict[str, Any]) -> str:
    hw = results["hardware"]
    lines = ["| row | parameters | GFLOP/frame | training | micro AUC (train norm.) | micro AUC (video norm.) "
             "| macro AUC | EER (train norm.) | motion generated |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["rows"]:
        minutes = f"{r['train_seconds'] / 60:.0f} min" if r["train_seconds"] else "none"
        motion = f"{r['motion_generated']['ratio']:.3f}" if r.get("motion_generated") else "-"
        lines.append(f"| {r['label']} | {r['parameters']:,} | {r['gflops_per_frame']:.2f} | {minutes} "
                     f"| {r['micro_auc_train']:.4f} | {r['micro_auc_video']:.4f} | {r['macro_auc']:.4f} "
                     f"| {r['eer_train']:.4f} | {motion} |")
    lines.append("")
    lines.append(f"{results['steps']} training steps per row on {hw['cpu']} ({hw['cores']} cores, "
                 f"torch {hw['torch']}, no GPU); all {results['rows'][0]['n_frames']} test frames. "
                 "Score rows rescore the first row's weights. Training time: wall time of the run, "
                 "resumed sessions added up. Motion generated: on training frames, the mean change the "
                 "model generates from frame t-1 over the true change, on pixels that move (0: it copies "
                 "frame t-1; see motion_generated in ped2.py).")
    return "\n".join(lines)


def update_page(page: Path, table: str) -> bool:
    text = page.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return False
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    page.write_text(f"{head}{TABLE_START}\n{table}\n{TABLE_END}{tail}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--recipe", default=Path("configs/ped2.yaml"), type=Path)
    parser.add_argument("--runs", default=Path("runs/ped2"), type=Path, help="run folders (resumable)")
    parser.add_argument("--json", default=Path("benchmarks/results/ped2.json"), type=Path)
    parser.add_argument("--page", default=Path("docs/ped2.md"), type=Path, help="page whose table is replaced")
    parser.add_argument("--rows", nargs="*", help=f"a subset of: {' '.join(r.name for r in ROWS)}")
    parser.add_argument("--ship", type=Path, help="copy the first row's model here (e.g. weights/ped2.pt)")
    args = parser.parse_args(argv)
    def publish(results: dict[str, Any]) -> None:
        previous = json.loads(args.json.read_text()) if args.json.exists() else None
        merged = merge(previous, results)
        table = markdown_table(merged)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(args.json, lambda tmp: tmp.write_text(json.dumps(merged, indent=2) + "\n"))
        atomic_write(args.json.with_suffix(".md"), lambda tmp: tmp.write_text(table + "\n"))
        update_page(args.page, table)
        first = results["rows"][-1]
        if args.ship and first["name"] == "full":
            args.ship.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(args.ship, lambda tmp: shutil.copyfile(first["model"], tmp))
            print(f"shipped {first['model']} as {args.ship}", file=sys.stderr)

    try:
        run_benchmark(args.data, args.recipe, args.runs, args.rows, publish)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    print(args.json.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

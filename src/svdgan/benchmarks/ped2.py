"""UCSD Ped2: train the recipe and its ablations, evaluate each on all test frames, write the table.

    python -m svdgan.benchmarks.ped2 --data ../shared/data/ucsd_ped2 [--ship weights/ped2.pt]

Every row trains `configs/ped2.yaml` with a few overrides on the same data and step budget
(the paper-claim rows: the paper's configuration with and without the SVD loss, two seeds each,
at their own budget `--paper-steps`, in a table of their own put into the README too),
in its own run folder under --runs (resumable: rerun the command after an interruption and
finished rows are reused, unfinished ones resumed). Score-option rows rescore the first row's
weights. Writes benchmarks/results/ped2.json, the markdown table beside it, and that table
into docs/ped2.md between its ped2-table markers.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..calibrate import calibrate
from ..checkpoint import atomic_write, load_checkpoint, load_generator
from ..config import Config, config_from_dict, load_config
from ..data.datasets import FrameTruth, discover
from ..data.frames import load_video, to_model_range
from ..data.groundtruth import frame_labels, labels_from_ranges
from ..errors import UserError
from ..evaluation import evaluate_checkpoint
from ..info import flops_per_frame, parameter_counts
from ..metrics import evaluate as compute_metrics
from ..motion import fuse_normal_scores, grey_video, normal_greys
from ..scorefiles import read_scores
from ..scoring import causal_smooth, frame_score, normalize, patch_errors, reconstruct_windows, window_end
from ..training import train
from .machine import describe, describe_training, hardware

TABLE_START, TABLE_END = "<!-- ped2-table:start -->", "<!-- ped2-table:end -->"


@dataclass
class Row:
    name: str  # run folder
    label: str  # table row
    overrides: list[str] = field(default_factory=list)  # on top of the recipe
    score: list[str] = field(default_factory=list)  # score options, rescoring the first row's weights
    baseline: bool = False  # no model at all: frame t-1 stands in for the generated frame t
    memory: str = "none"  # baseline rows: the memory of normal motion "none", "fused" with it, or "alone"
    svd: bool | None = None  # paper-claim rows: with or without the SVD loss (their own table)


GENERATOR_ALONE = ["memory.enabled=false"]
ROWS = [
    Row("full", "SVD-GAN + memory of normal motion, this recipe (shipped as weights/ped2.pt)"),
    Row("no_memory", "without the memory of normal motion (the generator alone)", score=GENERATOR_ALONE),
    Row("memory_copy", "memory of normal motion, frame t-1 in place of the generator", baseline=True,
        memory="fused"),
    Row("memory_only", "memory of normal motion alone (no generator score)", baseline=True, memory="alone"),
    Row("copy_previous", "no model: frame t-1 as the prediction of frame t (recipe's score options)",
        baseline=True),
    Row("not_residual", "generator alone: predicting frame t directly, not as a change to t-1",
        ["model.residual=false", *GENERATOR_ALONE]),
    Row("reconstruct", "generator alone: reconstructing frame t, as the paper",
        ["model.target=reconstruct", "model.residual=false", *GENERATOR_ALONE]),
    Row("no_svd", "generator alone: without the SVD loss (paper Table 2)", ["loss.svd=0", *GENERATOR_ALONE]),
    Row("ordinary_conv", "generator alone: ordinary conv instead of depthwise-separable",
        ["model.separable=false", *GENERATOR_ALONE]),
    Row("svd_rank_2", "generator alone: SVD rank 2", ["loss.svd_rank=2", *GENERATOR_ALONE]),
    Row("svd_rank_32", "generator alone: SVD rank 32", ["loss.svd_rank=32", *GENERATOR_ALONE]),
    Row("score_mean", "generator alone, score: frame mean squared error (paper)",
        score=["score.patch=0", "score.smooth=1", *GENERATOR_ALONE]),
    Row("score_patch", "generator alone, score: worst 16x16 patch, no smoothing",
        score=["score.patch=16", "score.smooth=1", *GENERATOR_ALONE]),
]

# The paper's configuration (reconstruct frame t, frame mean squared error), trained with and
# without the SVD loss from several seeds at one budget (--paper-steps), to test its Table 2.
PAPER_CONFIG = ["model.target=reconstruct", "model.residual=false", "score.patch=0", "score.smooth=1",
                *GENERATOR_ALONE]
PAPER_SEEDS = (0, 1)
PAPER_TABLE2 = {"ped2": {"without": 74.6, "with": 76.98}}  # macro AUC %, the authors' protocol
PAPER_ROWS = [Row(f"paper_{'svd' if svd else 'nosvd'}_s{seed}",
                  f"paper configuration, {'with' if svd else 'without'} the SVD loss, seed {seed}",
                  PAPER_CONFIG + [f"loss.svd={int(svd)}", f"train.seed={seed}"], svd=svd)
              for svd in (False, True) for seed in PAPER_SEEDS]
PAIRS_START, PAIRS_END = "<!-- paper-claim:start -->", "<!-- paper-claim:end -->"


def copy_errors(frames: torch.Tensor, patch: int) -> torch.Tensor:
    """(N, P, P) patch errors of frame t-1 as the prediction of frame t (frame 0 from itself, as
    the models)."""
    return patch_errors(torch.cat([frames[:1], frames[:-1]]), frames, patch)


def _copy_scores(videos: list[np.ndarray], config: Config) -> list[np.ndarray]:
    """Smoothed no-model scores of each video (N, C, S, S) uint8."""
    return [causal_smooth(frame_score(copy_errors(to_model_range(v), config.score.patch), config.score.patch)
                          .double().numpy(), config.score.smooth) for v in videos]


def baseline_metrics(data: Path, config: Config, memory: str = "none") -> dict[str, Any]:
    """The frame-difference detector: what a predictor that learned nothing but 'copy' scores;
    `memory` "fused": its score fused with the memory of normal motion as the generator's would
    be, "alone": the memory's score alone."""
    dataset = discover(data)
    if dataset.ground_truth is None:
        raise UserError(f"{data} has no ground truth")
    start = time.perf_counter()
    size, channels = config.model.size, config.model.channels
    test_videos = [load_video(v, size, channels) for v in dataset.test]
    scores = _copy_scores(test_videos, config)
    if memory != "none":
        cfg = copy.deepcopy(config)
        cfg.memory.enabled = True
        per_video = max(cfg.model.clip_len, cfg.train.stats_frames // len(dataset.train))  # as normal_scores
        normal_copy = _copy_scores([load_video(v, size, channels)[:per_video] for v in dataset.train], cfg)
        _, fitted = fuse_normal_scores(normal_copy, normal_greys(dataset.train, cfg), cfg)
        motion = [fitted.video_scores(grey_video(v, cfg.memory.height), cfg.score.smooth) for v in dataset.test]
        scores = [fitted.fuse(c, mo) if memory == "fused" else mo for c, mo in zip(scores, motion)]
    rows = [(video.name, s, frame_labels(truth, len(s), video.name))
            for video, truth, s in zip(dataset.test, dataset.ground_truth, scores)]
    raw = compute_metrics(rows, "none")
    video = compute_metrics([(n, normalize(s, "video"), lab) for n, s, lab in rows], "video")
    authors = authors_metrics([(n, s) for n, s, _ in rows], dataset.ground_truth)
    return {"micro_auc_train": raw["micro_auc"], "micro_auc_video": video["micro_auc"],
            "macro_auc": raw["macro_auc"], "eer_train": raw["eer"], "eer_video": video["eer"],
            "authors": authors, "n_frames": raw["n_frames"],
            "score": {"patch": config.score.patch, "smooth": config.score.smooth, "motion": memory},
            "eval_seconds": round(time.perf_counter() - start, 1)}


def authors_metrics(videos: list[tuple[str, np.ndarray]], truth: list[FrameTruth]) -> dict[str, float]:
    """The authors' evaluation of the same scores: per-video min-max, the ground truth's 1-based
    ranges applied to 0-based frame indices, and the mean of per-video AUCs (macro) as the figure."""
    labelled = [(name, normalize(scores, "video"),
                 labels_from_ranges(t, len(scores), zero_based=True, video=name) if isinstance(t, list)
                 else frame_labels(t, len(scores), name))  # no ranges, no off-by-one to copy
                for (name, scores), t in zip(videos, truth, strict=True)]
    metrics = compute_metrics(labelled, "video")
    return {"macro_auc": metrics["macro_auc"], "micro_auc": metrics["micro_auc"]}


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
    the budget), not how the run was executed (precision, threads, logging) and not the score
    options or the memory (the model file is calibrated for them afterwards)."""
    plain = json.loads(json.dumps(config_from_dict(config).to_dict()))  # defaults filled, tuples as lists
    for how_it_ran in ("steps", "precision", "threads", "workers", "cache_dir", "log_every", "checkpoint_every",
                       "preview_every"):  # ("auto" precision is bf16 on one machine, fp32 on another)
        plain["train"].pop(how_it_ran)
    plain.pop("score")
    plain.pop("memory")  # fitted when the model file is calibrated, as the score options
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
            "eer_video": video_metrics["eer"], "authors": authors_metrics(videos, truth),
            "n_frames": train_metrics["n_frames"],
            "score": train_metrics["score"], "eval_seconds": round(seconds, 1)}


def run_benchmark(data: Path, recipe: Path, runs: Path, only: list[str] | None = None,
                  publish: Any = None, paper_steps: int = 100) -> dict[str, Any]:
    """Each row in turn; `publish(results)` after every row, so an interrupted run keeps its rows.
    Rows already in `previous` results (same name) are replaced, others kept. The paper-claim
    rows train `paper_steps` steps each."""
    truth = discover(data).ground_truth
    if truth is None:
        raise UserError(f"{data} has no ground truth")
    machine = hardware()
    results: dict[str, Any] = {"data": str(data), "recipe": str(recipe), "hardware": machine, "rows": [],
                               "steps": load_config(recipe).train.steps, "paper_steps": paper_steps}
    for row in ROWS + PAPER_ROWS:
        if only and row.name not in only:
            continue
        print(f"== {row.name}: {row.label}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        overrides = row.overrides + ([f"train.steps={paper_steps}"] if row.svd is not None else [])
        config = load_config(recipe, overrides)
        if row.baseline:
            no_model = None
            if row.memory != "none":  # what the memory adds to nothing learned at all
                no_model = {"nothing_learned": baseline_metrics(data, config)["micro_auc_train"]}
            results["rows"].append({"name": row.name, "label": row.label, "overrides": [], "model": None,
                                    "parameters": 0, "gflops_per_frame": 0.0, "steps": 0, "train_seconds": 0.0,
                                    **baseline_metrics(data, config, row.memory), "no_model": no_model,
                                    "hardware": machine,
                                    "row_wall_seconds": round(time.perf_counter() - start, 1)})
            if publish is not None:
                publish(results)
            continue
        run_dir = runs / ("full" if row.score else row.name)
        payload = _train_row(data, run_dir, config)
        model = run_dir / (f"{row.name}.pt" if row.score else "model.pt")
        score = [f"score.patch={config.score.patch}", f"score.smooth={config.score.smooth}",
                 *(f"memory.{k}={v}" for k, v in dataclasses.asdict(config.memory).items()), *row.score]
        calibrate(run_dir / "checkpoint.pt", data, model, score, progress=False)
        metrics = _score_row(model, data, runs / "reports" / row.name, truth)
        metrics["motion_generated"] = motion_generated(model, data)
        scoring = load_config(recipe, overrides + row.score)  # the row's score options, its memory or none
        metrics["no_model"] = {  # the same scoring, the learned parts replaced by 'no model'
            "generator_replaced": baseline_metrics(data, scoring, "fused" if scoring.memory.enabled else "none")[
                "micro_auc_train"],
            "nothing_learned": baseline_metrics(data, scoring)["micro_auc_train"]}
        cfg = config.model
        results["rows"].append({
            "name": row.name, "label": row.label, "overrides": overrides + row.score, "svd": row.svd,
            "model": str(model), "parameters": parameter_counts(cfg)["generator"],
            "gflops_per_frame": flops_per_frame(cfg)["causal_per_output_frame"] / 1e9,
            "steps": int(payload["step"]), "train_seconds": round(float(payload.get("train_seconds", 0.0)), 1),
            "trained_on": describe_training(payload.get("train_sessions")), **metrics, "hardware": machine,
            "row_wall_seconds": round(time.perf_counter() - start, 1)})
        print(json.dumps(results["rows"][-1]), file=sys.stderr, flush=True)
        if publish is not None:
            publish(results)
    return results


def merge(previous: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """New rows replace the previous results' rows of the same name (rows trained to another step
    budget are dropped); the table keeps ROWS order. Rows keep the machine they were measured on."""
    kept: dict[str, Any] = {}
    for r in (previous or {}).get("rows", []):  # there are rows only when previous is a dict
        budget = "paper_steps" if r.get("svd") is not None else "steps"
        if previous.get(budget) == new[budget]:
            kept[r["name"]] = {"hardware": previous.get("hardware"), **r}
    kept.update({r["name"]: r for r in new["rows"]})
    order = [r.name for r in ROWS + PAPER_ROWS]
    rows = sorted(kept.values(), key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
    main_rows = [r for r in rows if r.get("svd") is None]
    machine = main_rows[0]["hardware"] if main_rows else new["hardware"]  # the main table's machine
    return {**new, "hardware": machine, "rows": rows, "paper_claim": paper_claim(rows)}


def _spread(values: list[float]) -> dict[str, Any]:
    return {"values": values, "mean": float(np.mean(values)), "range": float(np.ptp(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}


def paper_claim(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """With against without the SVD loss over the seeds: each figure's mean, spread and the
    difference of the means, and whether that difference exceeds the seed-to-seed range."""
    groups = {svd: [r for r in rows if r.get("svd") is svd] for svd in (False, True)}
    if not all(groups.values()):
        return None
    figures = {"micro_auc_video": lambda r: r["micro_auc_video"], "micro_auc_train": lambda r: r["micro_auc_train"],
               "authors_macro_auc": lambda r: r["authors"]["macro_auc"]}
    claim: dict[str, Any] = {"seeds": {k: [r["overrides"] for r in g] for k, g in
                                       (("without", groups[False]), ("with", groups[True]))}}
    for name, get in figures.items():
        without, with_svd = _spread([get(r) for r in groups[False]]), _spread([get(r) for r in groups[True]])
        difference = with_svd["mean"] - without["mean"]
        claim[name] = {"without": without, "with": with_svd, "difference": difference,
                       "beyond_seed_range": abs(difference) > max(without["range"], with_svd["range"])}
    return claim


def paper_claim_table(results: dict[str, Any]) -> str:
    """The paper-configuration pairs beside the paper's Table 2, under both protocols."""
    claim = results.get("paper_claim")
    if not claim:
        return "(the paper-configuration rows have not been run yet)"
    rows = [r for r in results["rows"] if r.get("svd") is not None]
    paper = PAPER_TABLE2["ped2"]
    lines = ["| SVD loss | runs | micro AUC, standard (video norm.) | micro AUC (train norm.) "
             "| macro AUC, authors' protocol | paper, Table 2 |", "|---|---|---:|---:|---:|---:|"]
    for key in ("without", "with"):
        cells = []
        for figure in ("micro_auc_video", "micro_auc_train", "authors_macro_auc"):
            f = claim[figure][key]
            each = ", ".join(f"{v:.4f}" for v in f["values"])
            cells.append(f"{f['mean']:.4f} ± {f['std']:.4f} ({each})")
        lines.append(f"| {key} | {len(f['values'])} seeds | {' | '.join(cells)} | {paper[key]:.2f} |")
    diffs = [f"{claim[f]['difference']:+.4f} ({'beyond' if claim[f]['beyond_seed_range'] else 'within'} "
             f"the seed range)" for f in ("micro_auc_video", "micro_auc_train", "authors_macro_auc")]
    lines.append(f"| with − without | | {' | '.join(diffs)} | {paper['with'] - paper['without']:+.2f} |")
    hw = rows[0]["hardware"] or results["hardware"]
    minutes = np.mean([r["train_seconds"] for r in rows]) / 60
    lines += ["", f"Each run: the paper's configuration (reconstruct frame t from frames t-6..t, frame mean "
              f"squared error), {results['paper_steps']} training steps (batch 3), mean {minutes:.0f} min of "
              f"training (wall time, with whatever else ran on the machine) on {describe(hw)}. Mean ± "
              "sample standard deviation over seeds, each seed in brackets; 'beyond the seed range' "
              "when the difference of the means is larger than the "
              "largest seed-to-seed range of either group. Authors' protocol: per-video min-max, the "
              "ground truth's 1-based ranges applied to 0-based frames (as their code), mean of the "
              "per-video AUCs; the paper's Table 2 figures are percentages of that kind."]
    return "\n".join(lines)


def _copy_counterpart(row: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, float]:
    """For a generator-alone row from before the share columns: the no-model row, where its score
    options are the same (then both shares are against it), else nothing."""
    copy = next((r for r in rows if r["name"] == "copy_previous"), None)

    def options(r: dict[str, Any]) -> tuple:
        return r.get("score", {}).get("patch"), r.get("score", {}).get("smooth")

    same = copy is not None and not row.get("score", {}).get("motion") and options(row) == options(copy)
    return {"generator_replaced": copy["micro_auc_train"], "nothing_learned": copy["micro_auc_train"]} if same else {}


def markdown_table(results: dict[str, Any]) -> str:
    hw = results["hardware"]
    lines = ["| row | parameters | GFLOP/frame | training | micro AUC (train norm.) | generator's share "
             "| learned parts' share | micro AUC (video norm.) | macro AUC | EER (train norm.) | motion generated |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    labels = {row.name: row.label for row in ROWS}  # the rows' current descriptions
    for r in [r for r in results["rows"] if r.get("svd") is None]:
        minutes = f"{r['train_seconds'] / 60:.0f} min" if r["train_seconds"] else "none" if not r["steps"] else (
            "not recorded")
        if r["train_seconds"] and "trained_on" in r:  # rows from before the training machine was kept lack it
            minutes += f" ({r['trained_on']})"
        motion = f"{r['motion_generated']['ratio']:.3f}" if r.get("motion_generated") else "-"
        no_model = r.get("no_model") or _copy_counterpart(r, results["rows"])
        shares = [f"{r['micro_auc_train'] - no_model[k]:+.4f}" if k in no_model else "-"
                  for k in ("generator_replaced", "nothing_learned")]
        label = labels.get(r["name"], r["label"])
        lines.append(f"| {label} | {r['parameters']:,} | {r['gflops_per_frame']:.2f} | {minutes} "
                     f"| {r['micro_auc_train']:.4f} | {' | '.join(shares)} | {r['micro_auc_video']:.4f} "
                     f"| {r['macro_auc']:.4f} | {r['eer_train']:.4f} | {motion} |")
    lines.append("")
    lines.append(f"{results['steps']} training steps per row; the first row scored on {describe(hw)}, no GPU "
                 f"(every row keeps its machine in ped2.json); all {results['rows'][0]['n_frames']} test frames. "
                 "Score rows rescore the first row's weights. Training time: wall time of the row's run on the "
                 "machine that trained it, resumed sessions added up (the memory of normal motion is fitted in "
                 "about 2 min more). "
                 "Generator's share: the row's micro AUC (train norm.) minus the same scoring with frame t-1 "
                 "in place of the generated frame (memory kept); learned parts' share: minus the same "
                 "score options with nothing learned (frame t-1, no memory). Motion generated: on training "
                 "frames, the mean change the model generates from frame t-1 over the true change, on pixels "
                 "that move (0: it copies frame t-1; see motion_generated in ped2.py).")
    return "\n".join(lines)


def update_page(page: Path, table: str, start: str = TABLE_START, end: str = TABLE_END) -> bool:
    """Replace what lies between the page's `start` and `end` markers; False if it has none."""
    text = page.read_text() if page.exists() else ""
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    page.write_text(f"{head}{start}\n{table}\n{end}{tail}")
    return True


def write_tables(results: dict[str, Any], json_path: Path, pages: list[Path], readme: Path) -> None:
    """The results as JSON, the two tables beside it, and the tables into the pages' markers."""
    table, pairs = markdown_table(results), paper_claim_table(results)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(json_path, lambda tmp: tmp.write_text(json.dumps(results, indent=2) + "\n"))
    atomic_write(json_path.with_suffix(".md"), lambda tmp: tmp.write_text(f"{table}\n\n{pairs}\n"))
    for page in pages:
        update_page(page, table)
    for page in [*pages, readme]:
        update_page(page, pairs, PAIRS_START, PAIRS_END)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="the dataset (required unless --tables-only)")
    parser.add_argument("--recipe", default=Path("configs/ped2.yaml"), type=Path)
    parser.add_argument("--runs", default=Path("runs/ped2"), type=Path, help="run folders (resumable)")
    parser.add_argument("--json", default=Path("benchmarks/results/ped2.json"), type=Path)
    parser.add_argument("--page", default=Path("docs/ped2.md"), type=Path, help="page whose table is replaced")
    parser.add_argument("--readme", default=Path("README.md"), type=Path,
                        help="page whose paper-claim table is replaced too")
    parser.add_argument("--rows", nargs="*", help=f"a subset of: {' '.join(r.name for r in ROWS + PAPER_ROWS)}")
    parser.add_argument("--paper-steps", type=int, default=100,
                        help="training steps of each paper-configuration run (one budget for all of them)")
    parser.add_argument("--ship", type=Path, help="copy the first row's model here (e.g. weights/ped2.pt)")
    parser.add_argument("--tables-only", action="store_true",
                        help="run nothing: rewrite the tables and pages from the JSON (e.g. after a caption change)")
    args = parser.parse_args(argv)

    def publish(results: dict[str, Any]) -> None:
        previous = json.loads(args.json.read_text()) if args.json.exists() else None
        write_tables(merge(previous, results), args.json, [args.page], args.readme)
        first = results["rows"][-1]
        if args.ship and first["name"] == "full":
            args.ship.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(args.ship, lambda tmp: shutil.copyfile(first["model"], tmp))
            print(f"shipped {first['model']} as {args.ship}", file=sys.stderr)

    try:
        if args.tables_only:
            if not args.json.is_file():
                raise UserError(f"no results to rewrite the tables from: {args.json}")
            write_tables(json.loads(args.json.read_text()), args.json, [args.page], args.readme)
        else:
            if args.data is None:
                raise UserError("--data is required (unless --tables-only)")
            if args.paper_steps < 1:
                raise UserError("--paper-steps must be at least 1")
            run_benchmark(args.data, args.recipe, args.runs, args.rows, publish, args.paper_steps)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    print(args.json.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""UCSD Ped2: train the recipe and its ablations, evaluate each on all test frames, write the table.

    python -m benchmarks.ped2 --data ../shared/data/ucsd_ped2 [--ship src/svdgan/weights/ped2.pt]

The first row is the shipped recipe, `configs/ped2.yaml` (the memory of normal motion alone:
nothing to train, its memory fitted). Every other row trains `configs/svdgan_memory.yaml` (the
SVD-GAN with the memory, the recipe before the generator's share was measured) with a few
overrides on the same data and step budget (the paper-claim rows: the paper's configuration with
and without the SVD loss, five seeds each at 100 steps and three at 500, in a table of their own
`benchmarks.paper_claim`), in its own run folder under --runs
(resumable: rerun the command after an interruption and finished rows are reused, unfinished
ones resumed). Score-option rows rescore the SVD-GAN row's weights. Writes
benchmarks/results/ped2.json, the markdown table beside it, and that table into docs/ped2.md
between its ped2-table markers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.baselines import baseline_metrics, motion_generated
from benchmarks.paper_claim import object_claim, object_claim_table, paper_claim, paper_claim_table
from benchmarks.protocols import authors_metrics
from svdgan.config import Config, config_from_dict, load_config
from svdgan.data.datasets import FrameTruth, discover
from svdgan.data.groundtruth import frame_labels
from svdgan.errors import UserError
from svdgan.evaluation.metrics import evaluate as compute_metrics
from svdgan.evaluation.report import evaluate_checkpoint
from svdgan.evaluation.scorefiles import read_scores
from svdgan.model.checkpoint import load_checkpoint
from svdgan.model.info import flops_per_frame, parameter_counts
from svdgan.scoring.fit import calibrate, train
from svdgan.scoring.normalise import normalize
from svdgan.utils.files import atomic_write
from svdgan.utils.hardware import describe, describe_training, hardware

TABLE_START, TABLE_END = "<!-- ped2-table:start -->", "<!-- ped2-table:end -->"
PAIRS_START, PAIRS_END = "<!-- paper-claim:start -->", "<!-- paper-claim:end -->"
OBJECTS_START, OBJECTS_END = "<!-- object-claim:start -->", "<!-- object-claim:end -->"


@dataclass
class Row:
    name: str  # run folder
    label: str  # table row
    overrides: list[str] = field(default_factory=list)  # on top of the recipe
    score: list[str] = field(default_factory=list)  # score options, rescoring the first row's weights
    baseline: bool = False  # no model at all: frame t-1 stands in for the generated frame t
    memory: str = "none"  # baseline rows: the memory of normal motion "none", "fused" with it, or "alone"
    svd: bool | None = None  # paper-claim rows: with or without the SVD loss (their own table)
    steps: int | None = None  # paper-claim rows: their training budget
    object_svd: bool | None = None  # the SVD-GAN on objects' rows: with or without its SVD loss
    adds: bool = False  # the row is its base row with one part added: that part's share is the difference
    shipped: bool = False  # the shipped recipe (configs/ped2.yaml), not the SVD-GAN's


GENERATOR_ALONE = ["memory.enabled=false"]
OBJECT_SEEDS = 3  # the SVD-GAN on objects, with and without its SVD loss: seeds per arm


def _objects_error_row(svd: bool, seed: int) -> Row:
    """The objects_error row's recipe with or without the object generator's SVD loss, from another seed."""
    name = "objects_error" + ("" if svd else "_nosvd") + (f"_s{seed}" if seed else "")
    return Row(name, f"memory of normal motion + the SVD-GAN on objects' error, {'with' if svd else 'without'} "
               f"its SVD loss, seed {seed}", ["memory.objects=[error]", f"memory.object_svd={int(svd)}",
                                             f"train.seed={seed}"], shipped=True, object_svd=svd, adds=True)


SHIPPED_RECIPE = Path("configs/ped2.yaml")

ROWS = [
    Row("shipped", "memory of normal motion alone, this recipe (shipped as src/svdgan/weights/ped2.pt)",
        shipped=True),
    Row("look", "memory of normal motion + the look of the cells that move (memory.look=true, the option "
        "configs/look.yaml)", ["memory.look=true"], shipped=True, adds=True),
    *[Row(f"objects_{group}", f"memory of normal motion + objects' {group}"
          f"{'' if group == 'place' else ' at their place'}"
          f" (memory.objects=[{group}]{', the option configs/objects.yaml' if group == 'size' else ''})",
          [f"memory.objects=[{group}]"], shipped=True, adds=True) for group in ("size", "motion", "look", "place")],
    Row("objects_error", "memory of normal motion + the SVD-GAN on objects' error at their place "
        "(memory.objects=[error], the option configs/objects_generator.yaml)", ["memory.objects=[error]"],
        shipped=True, object_svd=True, adds=True),
    *[_objects_error_row(svd, seed) for seed in range(OBJECT_SEEDS) for svd in (False, True) if seed or not svd],
    Row("full", "SVD-GAN + memory of normal motion (configs/svdgan_memory.yaml, the recipe before)"),
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
# without the SVD loss from several seeds at each budget, to test its Table 2.
# fp32 on every machine, so that two seeds differ by their seed only ("auto" is bf16 where native).
PAPER_CONFIG = ["model.target=reconstruct", "model.residual=false", "score.patch=0", "score.smooth=1",
                "train.precision=fp32", *GENERATOR_ALONE]
PAPER_BUDGETS = {100: 5, 500: 3}  # training steps -> seeds per arm


def _paper_row(steps: int, svd: bool, seed: int) -> Row:
    arm = "svd" if svd else "nosvd"
    name = f"paper_{arm}_s{seed}" if steps == 100 else f"paper{steps}_{arm}_s{seed}"  # 100: the first rows' names
    return Row(name, f"paper configuration, {'with' if svd else 'without'} the SVD loss, seed {seed}, {steps} steps",
               PAPER_CONFIG + [f"loss.svd={int(svd)}", f"train.seed={seed}"], svd=svd, steps=steps)


PAPER_ROWS = [_paper_row(steps, svd, seed) for steps, seeds in PAPER_BUDGETS.items()
              for svd in (False, True) for seed in range(seeds)]


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


def _setting(value: Any) -> str:
    """A config value as a `key=value` override writes it."""
    return f"[{','.join(map(str, value))}]" if isinstance(value, (tuple, list)) else str(value)


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
                  publish: Any = None, paper_steps: int | None = None) -> dict[str, Any]:
    """Each row in turn; `publish(results)` after every row, so an interrupted run keeps its rows.
    Rows already in `previous` results (same name) are replaced, others kept. The paper-claim
    rows train their own budget, or `paper_steps` steps each if given."""
    truth = discover(data).ground_truth
    if truth is None:
        raise UserError(f"{data} has no ground truth")
    machine = hardware()
    results: dict[str, Any] = {"data": str(data), "recipe": str(recipe), "hardware": machine, "rows": [],
                               "steps": load_config(recipe).train.steps}
    for row in ROWS + PAPER_ROWS:
        if only and row.name not in only:
            continue
        print(f"== {row.name}: {row.label}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        overrides = row.overrides + ([f"train.steps={paper_steps or row.steps}"] if row.svd is not None else [])
        config = load_config(SHIPPED_RECIPE if row.shipped else recipe, overrides)
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
                 *(f"memory.{k}={_setting(v)}" for k, v in dataclasses.asdict(config.memory).items()), *row.score]
        calibrate(run_dir / "checkpoint.pt", data, model, score, progress=False)
        metrics = _score_row(model, data, runs / "reports" / row.name, truth)
        metrics["motion_generated"] = motion_generated(model, data) if config.score.generator else None
        scoring = load_config(SHIPPED_RECIPE if row.shipped else recipe, overrides + row.score)  # its score options
        metrics["no_model"] = {  # the same scoring, the learned parts replaced by 'no model'
            "nothing_learned": baseline_metrics(data, scoring)["micro_auc_train"]}
        if scoring.score.generator:
            metrics["no_model"]["generator_replaced"] = baseline_metrics(
                data, scoring, "fused" if scoring.memory.enabled else "none")["micro_auc_train"]
        cfg = config.model
        generator = config.score.generator  # a recipe without it runs none: no parameters, no FLOPs
        results["rows"].append({
            "name": row.name, "label": row.label, "overrides": overrides + row.score, "svd": row.svd,
            "object_svd": row.object_svd,
            "model": str(model), "parameters": parameter_counts(cfg)["generator"] if generator else 0,
            "gflops_per_frame": flops_per_frame(cfg)["causal_per_output_frame"] / 1e9 if generator else 0.0,
            "steps": int(payload["step"]), "train_seconds": round(float(payload.get("train_seconds", 0.0)), 1),
            "trained_on": describe_training(payload.get("train_sessions")), **metrics, "hardware": machine,
            "row_wall_seconds": round(time.perf_counter() - start, 1)})
        print(json.dumps(results["rows"][-1]), file=sys.stderr, flush=True)
        if publish is not None:
            publish(results)
    return results


def merge(previous: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """New rows replace the previous results' rows of the same name (main-table rows trained to
    another step budget are dropped; paper-claim rows keep their own budget); the table keeps ROWS
    order. Rows keep the machine they were measured on."""
    kept: dict[str, Any] = {}
    for r in (previous or {}).get("rows", []):  # there are rows only when previous is a dict
        if r.get("svd") is not None or previous.get("steps") == new["steps"]:
            kept[r["name"]] = {"hardware": previous.get("hardware"), **r}
    kept.update({r["name"]: r for r in new["rows"]})
    for row in ROWS:  # what the rows are, as this version describes them (rows run before it lack it)
        if row.name in kept:
            kept[row.name].update(object_svd=row.object_svd, adds=row.adds)
    order = [r.name for r in ROWS + PAPER_ROWS]
    rows = sorted(kept.values(), key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
    main_rows = [r for r in rows if r.get("svd") is None]
    machine = main_rows[0]["hardware"] if main_rows else new["hardware"]  # the main table's machine
    return {**new, "hardware": machine, "rows": rows, "paper_claim": paper_claim(rows),
            "object_claim": object_claim(rows)}


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
    shipped = next((r for r in results["rows"] if r["name"] == ROWS[0].name), None)
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
        if r.get("adds") and shipped is not None:  # the part's share: with it minus without
            label += f"; the part's share {r['micro_auc_train'] - shipped['micro_auc_train']:+.4f}"
        lines.append(f"| {label} | {r['parameters']:,} | {r['gflops_per_frame']:.2f} | {minutes} "
                     f"| {r['micro_auc_train']:.4f} | {' | '.join(shares)} | {r['micro_auc_video']:.4f} "
                     f"| {r['macro_auc']:.4f} | {r['eer_train']:.4f} | {motion} |")
    lines.append("")
    lines.append(f"The first row (the shipped recipe) trains nothing: its memory is fitted; so do the objects rows, "
                 "each the shipped recipe with one attribute group of the memory of normal objects added (its "
                 "training time: the memory's fitting, objects included). The SVD-GAN rows "
                 f"train {results['steps']} steps each. The first row scored on {describe(hw)}, no GPU "
                 f"(every row keeps its machine in ped2.json); all {results['rows'][0]['n_frames']} test frames. "
                 "Score rows rescore the SVD-GAN row's weights. Training time: wall time of the row's run on the "
                 "machine that trained it, resumed sessions added up (the memory of normal motion is fitted in "
                 "about 2 min more). "
                 "Generator's share: the row's micro AUC (train norm.) minus the same scoring with frame t-1 "
                 "in place of the generated frame (memory kept); learned parts' share: minus the same "
                 "score options with nothing learned (frame t-1, no memory). Motion generated: on training "
                 "frames, the mean change the model generates from frame t-1 over the true change, on pixels "
                 "that move (0: it copies frame t-1; see motion_generated in svdgan/evaluation/baselines.py).")
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


def write_tables(results: dict[str, Any], json_path: Path, pages: list[Path]) -> None:
    """The results as JSON, the two tables beside it, and the tables into the pages' markers."""
    table, pairs, objects = markdown_table(results), paper_claim_table(results), object_claim_table(results)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(json_path, lambda tmp: tmp.write_text(json.dumps(results, indent=2) + "\n"))
    atomic_write(json_path.with_suffix(".md"), lambda tmp: tmp.write_text(f"{table}\n\n{pairs}\n\n{objects}\n"))
    for page in pages:
        update_page(page, table)
        update_page(page, objects, OBJECTS_START, OBJECTS_END)
        update_page(page, pairs, PAIRS_START, PAIRS_END)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="the dataset (required unless --tables-only)")
    parser.add_argument("--recipe", default=Path("configs/svdgan_memory.yaml"), type=Path,
                        help="the SVD-GAN recipe the other rows train (the first row's is configs/ped2.yaml)")
    parser.add_argument("--runs", default=Path("runs/ped2"), type=Path, help="run folders (resumable)")
    parser.add_argument("--json", default=Path("benchmarks/results/ped2.json"), type=Path)
    parser.add_argument("--page", default=Path("docs/ped2.md"), type=Path, help="page whose tables are replaced")
    parser.add_argument("--rows", nargs="*", help=f"a subset of: {' '.join(r.name for r in ROWS + PAPER_ROWS)}")
    parser.add_argument("--paper-steps", type=int,
                        help="train the chosen paper-configuration rows to this budget instead of their own")
    parser.add_argument("--ship", type=Path, help="copy the first row's model here (e.g. src/svdgan/weights/ped2.pt)")
    parser.add_argument("--tables-only", action="store_true",
                        help="run nothing: rewrite the tables and pages from the JSON (e.g. after a caption change)")
    args = parser.parse_args(argv)

    def publish(results: dict[str, Any]) -> None:
        previous = json.loads(args.json.read_text()) if args.json.exists() else None
        write_tables(merge(previous, results), args.json, [args.page])
        first = results["rows"][-1]
        if args.ship and first["name"] == ROWS[0].name:
            args.ship.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(args.ship, lambda tmp: shutil.copyfile(first["model"], tmp))
            print(f"shipped {first['model']} as {args.ship}", file=sys.stderr)

    try:
        if args.tables_only:
            if not args.json.is_file():
                raise UserError(f"no results to rewrite the tables from: {args.json}")
            results = json.loads(args.json.read_text())
            results = merge(results, {**results, "rows": []})  # the statistics as this version computes them
            write_tables(results, args.json, [args.page])
        else:
            if args.data is None:
                raise UserError("--data is required (unless --tables-only)")
            if args.paper_steps is not None and args.paper_steps < 1:
                raise UserError("--paper-steps must be at least 1")
            run_benchmark(args.data, args.recipe, args.runs, args.rows, publish, args.paper_steps)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    print(args.json.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The SVD-GAN on what moves (issue 22), analysis: the paper's generator and discriminator trained on
clips that follow each tracked object, its error per object and its encoder's latent as scores
beside the memory of normal motion, with and without the SVD loss, several seeds.

    python -m research.object_generator --data ../shared/data/ucsd_ped2 --cache runs/flow \\
        --work runs/object_generator --json benchmarks/results/object_generator.json

Normal footage does everything but the last step: the generator trains on the objects of the
training videos but every fourth (HELD_OUT), whose objects give each score's normal statistics;
the cell memory's statistics are leave-one-video-out as in research/object_probe.py. Test labels
only score the result: the figures are analysis. Each run's model is checkpointed in --work, so
an interrupted study resumes where it stopped.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.paper_claim import compare
from research.object_probe import cell_scores, extract, motion
from svdgan.config import Config, MemoryConfig, apply_overrides
from svdgan.errors import UserError
from svdgan.evaluation.metrics import auc
from svdgan.model.generator import FrameFeatures, Generator
from svdgan.objects.crops import CropClips
from svdgan.training.objects import train_object_generator
from svdgan.training.step import split_clips
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware, training_machine
from svdgan.utils.series import causal_smooth, standardise

FIRST_STEPS = 300  # the first study's budget (its rows' names carry no step count)
HELD_OUT = 4  # every 4th training video is kept out of the generator's training, for statistics
CROP = 32  # px per side of an object's crops
LENGTH = 7  # T, crops per clip (the paper's)
# How the generator is kept from copying (issue 22, item 2): see ModelConfig.target and .skips.
VARIANTS = {
    "predict": {"model.target": "predict", "model.skips": True},
    "predict_bottleneck": {"model.target": "predict", "model.skips": False},
    "reconstruct_bottleneck": {"model.target": "reconstruct", "model.skips": False},
}


def object_clips(videos: dict[str, Any], objects: dict[str, Any]) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Per split and video: every object's clip of LENGTH + 1 crops (uint8) and the frame it ends at."""
    out: dict[str, list] = {}
    for split in ("train", "test"):
        out[split] = []
        for (greys, _), frames in zip(videos[split], objects[split]["objects"], strict=True):
            crops, clips, ends = CropClips(LENGTH + 1, CROP), [], []
            for t, (grey, seen) in enumerate(zip(greys, frames)):
                batch = crops.push(np.asarray(grey), seen)
                if batch is not None and len(batch):
                    clips.append(batch)
                    ends.extend([t] * len(batch))
            empty = np.zeros((0, LENGTH + 1, CROP, CROP), np.uint8)
            out[split].append((np.concatenate(clips) if clips else empty, np.array(ends, int)))
    return out


def model_config(variant: str, svd: bool, seed: int, batch: int, extra: list[str] | None = None) -> Config:
    """The variant's config; `extra` (key=value) changes the rest (the tests shrink the model)."""
    overrides = {**VARIANTS[variant], "model.size": CROP, "model.channels": 1, "model.clip_len": LENGTH,
                 "loss.svd": 1.0 if svd else 0.0, "train.seed": seed, "train.batch_size": batch,
                 "train.precision": "fp32"}
    return apply_overrides(Config(), [f"{k}={v}" for k, v in overrides.items()] + (extra or []))


def as_input(clips: np.ndarray, config: Config) -> torch.Tensor:
    """(B, LENGTH + 1, S, S) uint8 -> (B, T(+1), 1, S, S) in [-1, 1]: the clip the variant needs."""
    x = torch.from_numpy(np.ascontiguousarray(clips)).float().div_(127.5).sub_(1).unsqueeze(2)
    return x if config.target_offset else x[:, 1:]


@torch.no_grad()
def object_scores(g: Generator, clips: np.ndarray, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """Per object: the mean squared error of its generated newest crop, and its encoder's latent there."""
    g = g.eval()
    errors, latents = [], []
    for i in range(0, len(clips), 256):
        inputs, targets = split_clips(as_input(clips[i:i + 256], config), config)
        latent, skips = g.encoder(inputs)  # only the newest frame is generated
        b, t = inputs.shape[:2]
        newest = FrameFeatures(*(s.unflatten(0, (b, t))[:, -1] for s in skips))
        generated = g.decode(latent[:, -1], newest, inputs[:, -1])
        errors.append((generated - targets[:, -1]).pow(2).mean((1, 2, 3)))
        latents.append(latent[:, -1].flatten(1))
    if not errors:
        return np.zeros(0), np.zeros((0, 1))
    return torch.cat(errors).numpy(), torch.cat(latents).numpy()


def nearest(latents: np.ndarray, bank: torch.Tensor) -> np.ndarray:
    """Each latent's distance to its nearest normal latent."""
    if not len(latents):
        return np.zeros(0)
    x = torch.from_numpy(latents)
    return np.concatenate([torch.cdist(x[i:i + 1024], bank).min(1).values.numpy() for i in range(0, len(x), 1024)])


def frame_series(values: np.ndarray, ends: np.ndarray, n_frames: int, smooth: int) -> np.ndarray:
    """Each frame's worst object's value (0, as normal as can be, with no object), causally smoothed."""
    out = np.zeros(n_frames)
    np.maximum.at(out, ends, values)
    return causal_smooth(out, smooth)


def study_run(clips: dict[str, list], lengths: dict[str, list[int]], cells: list[np.ndarray],
              labels: np.ndarray, config: Config, name: str, steps: int, work: Path, smooth: int) -> dict[str, Any]:
    n = len(clips["train"])
    if n < 2:
        raise UserError("the generator on objects needs at least two training videos (one keeps its statistics)")
    held_ids = [i for i in range(n) if i % HELD_OUT == HELD_OUT - 1] or [n - 1]
    pool = np.concatenate([clips["train"][i][0] for i in range(n) if i not in held_ids])
    if not len(pool):
        raise UserError("no moving objects in the normal footage outside the held-out videos: nothing to train on")
    # a reconstructing variant's clip is the newest LENGTH crops (see as_input); a view, not a copy
    config = apply_overrides(copy.deepcopy(config), [f"train.steps={steps}"])
    generator, seconds = train_object_generator(pool if config.target_offset else pool[:, 1:], config,
                                                work / f"{name}.pt", progress=True)
    start = time.perf_counter()
    bank_clips = pool[np.random.default_rng(0).permutation(len(pool))[:10000]]
    bank = torch.from_numpy(object_scores(generator, bank_clips, config)[1])

    per_object: dict[str, np.ndarray] = {}  # kept beside the checkpoint, for analysis without rescoring

    def series(split: str, ids: list[int]) -> dict[str, list[np.ndarray]]:
        out: dict[str, list[np.ndarray]] = {"error": [], "latent": []}
        for i in ids:
            video, ends = clips[split][i]
            error, latent = object_scores(generator, video, config)
            distance = nearest(latent, bank)
            per_object.update({f"{split}{i}_error": error, f"{split}{i}_latent": distance})
            out["error"].append(frame_series(error, ends, lengths[split][i], smooth))
            out["latent"].append(frame_series(distance, ends, lengths[split][i], smooth))
        return out

    normal, test = series("train", held_ids), series("test", list(range(len(clips["test"]))))
    np.savez(work / f"{name}_objects.npz", **per_object)
    stats = {k: {"mean": float(np.concatenate(v).mean()), "std": float(np.concatenate(v).std())}
             for k, v in normal.items()}
    z = {k: [standardise(s, stats[k]) for s in test[k]] for k in test}
    combos = {"error": [z["error"]], "latent": [z["latent"]], "cells+error": [cells, z["error"]],
              "cells+latent": [cells, z["latent"]], "cells+error+latent": [cells, z["error"], z["latent"]]}
    aucs = {k: auc(np.concatenate([sum(parts) for parts in zip(*v)]), labels) for k, v in combos.items()}
    return {"name": name, "steps": steps, "batch": config.train.batch_size, "train_seconds": round(seconds, 1),
            "trained_on": training_machine(torch.device("cpu"), 1), "scored_on": hardware(), "score_seconds":
            round(time.perf_counter() - start, 1), "train_objects": int(len(pool)),
            "parameters": sum(p.numel() for p in generator.parameters()), "micro_auc": aucs}


def prepare(data: Path, cache: Path | None, work: Path, smooth: int) -> tuple[dict, dict, np.ndarray, list]:
    """Objects' clips, video lengths, test labels and cell scores, kept in `work` between runs."""
    kept = work / f"features_smooth{smooth}.npz"
    if kept.exists():
        f = np.load(kept)
        n = {s: int(f[f"{s}_videos"]) for s in ("train", "test")}
        clips = {s: [(f[f"{s}{i}_clips"], f[f"{s}{i}_ends"]) for i in range(n[s])] for s in n}
        lengths = {s: [int(x) for x in f[f"{s}_lengths"]] for s in n}
        return clips, lengths, f["labels"], [f[f"cells{i}"] for i in range(n["test"])]
    memory = MemoryConfig(enabled=True)
    videos = motion(data, memory, cache)
    features = extract(videos, memory)
    clips = object_clips(videos, features)
    lengths = {s: [len(g) for g, _ in videos[s]] for s in ("train", "test")}
    labels = np.concatenate(features["labels"])
    cells = cell_scores(features, memory, smooth)
    arrays = {"labels": labels, **{f"cells{i}": c for i, c in enumerate(cells)}}
    for s in clips:
        arrays.update({f"{s}_videos": len(clips[s]), f"{s}_lengths": lengths[s]})
        for i, (c, e) in enumerate(clips[s]):
            arrays.update({f"{s}{i}_clips": c, f"{s}{i}_ends": e})
    work.mkdir(parents=True, exist_ok=True)
    np.savez(work / "features.tmp.npz", **arrays)
    (work / "features.tmp.npz").replace(kept)
    return clips, lengths, labels, cells


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """Per variant and arm, each score's micro AUC and share over seeds; the SVD loss's effect on
    the object generator's error (with - without, Welch's 95% interval) where both arms have seeds."""
    cells = results["cells_micro_auc"]
    out: dict[str, Any] = {}
    for variant, steps in dict.fromkeys((r["variant"], r["steps"]) for r in results["rows"]):
        arms = {svd: [r for r in results["rows"] if (r["variant"], r["steps"]) == (variant, steps) and r["svd"] == svd]
                for svd in (True, False)}
        entry: dict[str, Any] = {}
        for svd, rows in arms.items():
            if rows:
                entry["with" if svd else "without"] = {
                    "seeds": [r["seed"] for r in rows],
                    **{k: float(np.mean([r["micro_auc"][k] for r in rows])) for k in rows[0]["micro_auc"]},
                    "share_error": float(np.mean([r["micro_auc"]["cells+error"] - cells for r in rows])),
                    "share_latent": float(np.mean([r["micro_auc"]["cells+latent"] - cells for r in rows]))}
        if all(len(rows) >= 2 for rows in arms.values()):
            entry["svd_loss"] = {k: compare([r["micro_auc"][k] for r in arms[False]],
                                            [r["micro_auc"][k] for r in arms[True]]) for k in ("error", "cells+error")}
        out[variant if steps == FIRST_STEPS else f"{variant} ({steps} steps)"] = entry
    return out


def table(results: dict[str, Any]) -> str:
    """Markdown: a row per run, then the SVD loss's effect per variant."""
    lines = [f"Cells alone: {results['cells_micro_auc']:.4f}.", "",
             "| variant | SVD loss | seed | steps x batch | training | error | cells + error (share) | "
             "latent | cells + latent (share) | cells + both |", "|---|---|---|---|---|---|---|---|---|---|"]
    cells = results["cells_micro_auc"]
    for r in results["rows"]:
        a = r["micro_auc"]
        lines.append(f"| {r['variant']} | {'with' if r['svd'] else 'without'} | {r['seed']} | {r['steps']} x "
                     f"{r['batch']} | {r['train_seconds'] / 60:.0f} min | {a['error']:.4f} | {a['cells+error']:.4f} "
                     f"({a['cells+error'] - cells:+.4f}) | {a['latent']:.4f} | {a['cells+latent']:.4f} "
                     f"({a['cells+latent'] - cells:+.4f}) | {a['cells+error+latent']:.4f} |")
    for variant, entry in results.get("summary", {}).items():
        for k, c in entry.get("svd_loss", {}).items():
            low, high = c["ci95"]
            lines.append(f"\n{variant}, {k}: with - without the SVD loss {c['difference']:+.4f} "
                         f"[{low:+.4f}, {high:+.4f}] ({len(c['with']['values'])} and {len(c['without']['values'])} "
                         f"seeds): {c['verdict']}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--cache", type=Path, help="grey frames and flow kept in this folder between runs")
    parser.add_argument("--work", required=True, type=Path, help="each run's checkpoint, for resuming")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--svd", nargs="+", default=["on", "off"], choices=["on", "off"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--smooth", type=int, default=5)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="other config settings of every run (e.g. model.conv1_channels=64)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--table-only", action="store_true", help="print the table of --json's runs and stop")
    args = parser.parse_args(argv)
    if args.table_only:
        print(table(json.loads(args.json.read_text())))
        return 0
    try:
        return study(args)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2


def study(args: argparse.Namespace) -> int:
    clips, lengths, labels, cells = prepare(args.data, args.cache, args.work, args.smooth)
    # each row keeps the machines that trained and scored it; this is the latest invocation's
    results: dict[str, Any] = {"data": str(args.data), "latest_run_on": hardware(), "crop": CROP, "length": LENGTH,
                               "held_out_every": HELD_OUT, "smooth": args.smooth,
                               "cells_micro_auc": auc(np.concatenate(cells), labels), "rows": []}
    if args.json and args.json.exists():  # runs of earlier invocations are kept: seeds add up
        results["rows"] = json.loads(args.json.read_text())["rows"]
    args.work.mkdir(parents=True, exist_ok=True)
    for variant in args.variants:
        for svd in args.svd:
            for seed in args.seeds:
                # runs of the first budget (300 steps) keep their names; longer ones say their steps
                name = f"{variant}_svd{svd}_s{seed}" + ("" if args.steps == FIRST_STEPS else f"_{args.steps}steps")
                config = model_config(variant, svd == "on", seed, args.batch, args.set)
                row = study_run(clips, lengths, cells, labels, config, name, args.steps, args.work, args.smooth)
                row.update(variant=variant, svd=svd == "on", seed=seed)
                results["rows"] = [r for r in results["rows"] if r["name"] != name] + [row]
                results["summary"] = summary(results)
                print(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in row["micro_auc"].items())
                      + f" (cells {results['cells_micro_auc']:.4f}; {row['train_seconds']:.0f} s training)")
                if args.json:
                    write_results(args.json, results)
    print(table(results))
    print(f"this run on {describe(results['latest_run_on'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

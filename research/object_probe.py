"""Objects beside the memory of normal motion (issue 22), analysis: micro AUC on a dataset with
ground truth of the cell memory, of each attribute group of the object memory, and of their sums.

    python -m research.object_probe --data ../shared/data/ucsd_ped2 --cache runs/flow

Normal footage builds the background, the memories and every statistic (each training video
scored against memories without it); test labels only score the result, so the printed figures
are analysis, not a choice of settings.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from svdgan.config import MemoryConfig
from svdgan.data.datasets import discover
from svdgan.data.groundtruth import frame_labels
from svdgan.errors import UserError
from svdgan.evaluation.metrics import auc
from svdgan.memory.bank import MotionMemory
from svdgan.memory.fitting import fit_bank
from svdgan.memory.flow import FlowCells, cell_features, grey_video
from svdgan.memory.objects import fit_object_memory, frame_scores
from svdgan.objects.attributes import DESCRIBED as GROUPS
from svdgan.objects.background import Background
from svdgan.objects.finder import ObjectFinder
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware
from svdgan.utils.series import causal_smooth, standardise


def motion(data: Path, config: MemoryConfig, cache: Path | None) -> dict[str, Any]:
    """Grey frames and optical flow of every video (the slow part, kept in `cache` as .npy)."""
    dataset = discover(data)
    if dataset.ground_truth is None or not dataset.train:
        raise UserError(f"{data} needs training videos and test ground truth")
    out: dict[str, Any] = {"train": [], "test": [], "labels": [], "seconds": 0.0}
    start = time.perf_counter()
    for split, videos in (("train", dataset.train), ("test", dataset.test)):
        for i, video in enumerate(tqdm(videos, desc=f"{split} flow", leave=False)):
            greys_file, flows_file = (cache / f"{split}{i:02d}_{k}.npy" if cache else None for k in ("grey", "flow"))
            if greys_file and greys_file.exists() and flows_file.exists():
                greys, flows = np.load(greys_file, mmap_mode="r"), np.load(flows_file, mmap_mode="r")
            else:
                greys = grey_video(video, config.height)
                flow, previous, flows = FlowCells(config.cell), None, []
                for grey in greys:
                    flows.append(flow.flow(previous, grey).astype(np.float16))
                    previous = grey
                flows = np.stack(flows)
                if cache:
                    cache.mkdir(parents=True, exist_ok=True)
                    np.save(greys_file, greys)
                    np.save(flows_file, flows)
            out[split].append((greys, flows))
    out["labels"] = [frame_labels(t, len(g), v.name) for v, t, (g, _) in
                     zip(dataset.test, dataset.ground_truth, out["test"], strict=True)]
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def extract(videos: dict[str, Any], config: MemoryConfig) -> dict[str, Any]:
    """Per video and frame: motion cells and objects."""
    background = Background.fit([np.asarray(g) for g, _ in videos["train"]])
    out: dict[str, Any] = {"labels": videos["labels"]}
    start = time.perf_counter()
    for split in ("train", "test"):
        cells, objects = [], []
        for greys, flows in tqdm(videos[split], desc=f"{split} objects", leave=False):
            finder = ObjectFinder(background)
            flows = np.asarray(flows, np.float32)
            cells.append(np.stack([cell_features(f, config.cell).numpy() for f in flows]))
            objects.append([finder.push(np.asarray(g), f) for g, f in zip(greys, flows)])
        out[split] = {"cells": cells, "objects": objects}
    out["extract_seconds"] = round(time.perf_counter() - start, 1)
    return out


def evaluate(features: dict[str, Any], config: MemoryConfig, smooth: int) -> dict[str, Any]:
    labels = np.concatenate(features["labels"])
    train, test = features["train"], features["test"]
    cells = cell_scores(features, config, smooth)
    # the object memory, its statistics, and the normal frames' scores per set of groups
    memory, held_out = fit_object_memory(train["objects"])
    test_d = [[{g: memory.distances(frame, g) for g in GROUPS} for frame in video] for video in test["objects"]]
    rows = [{"parts": "cells", "micro_auc": auc(np.concatenate(cells), labels)}]
    for n in range(1, len(GROUPS) + 1):
        for groups in itertools.combinations(GROUPS, n):
            normal = np.concatenate([causal_smooth(frame_scores(memory, v, groups), smooth) for v in held_out])
            o_mean, o_std = normal.mean(), max(normal.std(), 1e-12)
            objects = [(causal_smooth(frame_scores(memory, v, groups), smooth) - o_mean) / o_std for v in test_d]
            rows.append({"parts": "+".join(groups), "micro_auc": auc(np.concatenate(objects), labels)})
            rows.append({"parts": "cells+" + "+".join(groups),
                         "micro_auc": auc(np.concatenate([c + o for c, o in zip(cells, objects)]), labels)})
            rows.append({"parts": "max(cells, " + "+".join(groups) + ")",
                         "micro_auc": auc(np.concatenate([np.maximum(c, o) for c, o in zip(cells, objects)]), labels)})
    n_objects = sum(len(f) for v in train["objects"] for f in v)
    return {"rows": rows, "normal_objects": n_objects, "n_frames": int(len(labels)), "smooth": smooth}


def cell_scores(features: dict[str, Any], config: MemoryConfig, smooth: int) -> list[np.ndarray]:
    """Test videos' smoothed cell-memory distances in standard deviations of normal scores (each
    training video against a memory of the others)."""
    train, test = features["train"]["cells"], features["test"]["cells"]
    memory = MotionMemory(fit_bank([torch.from_numpy(c) for c in train], config), config, (config.height, 1))
    normal = held_out_cell_scores(train, config, smooth)
    stats = {"mean": float(normal.mean()), "std": float(normal.std())}
    return [standardise(causal_smooth(memory.distances(torch.from_numpy(c)), smooth), stats) for c in test]


def held_out_cell_scores(cells: list[np.ndarray], config: MemoryConfig, smooth: int) -> np.ndarray:
    """Each normal video's smoothed cell distances against a memory of the other videos."""
    tensors = [torch.from_numpy(c) for c in cells]
    scores = []
    for i, c in enumerate(tensors):
        rest = fit_bank([t for j, t in enumerate(tensors) if j != i], config)
        scores.append(causal_smooth(MotionMemory(rest, config, (config.height, 1)).distances(c), smooth))
    return np.concatenate(scores)


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
        results = evaluate(features, config, args.smooth)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    results.update(data=str(args.data), extract_seconds=features["extract_seconds"], hardware=hardware())
    print(f"micro AUC on {results['n_frames']} test frames, {results['normal_objects']} normal objects "
          f"(features in {results['extract_seconds']:.0f} s on {describe(results['hardware'])}):")
    for r in results["rows"]:
        print(f"  {r['parts']:28s} {r['micro_auc']:.4f}")
    if args.json:
        write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A memory of normality (issue 12): how far each test patch's features lie from the nearest
normal training patch, PatchCore-style, alone and fused with the no-model score.

    python -m research.feature_memory --data ../shared/data/ucsd_ped2 \
        --json benchmarks/results/feature_memory.json

Features per 8x8-pixel cell of a 128 px frame (a 16x16 grid): raw pixels and their change from
the previous frame, or the generator's second per-frame convolution (`skip2`, pooled 2x2), its
change from the previous frame, or both; from the given checkpoint and, to tell what training
adds, from a randomly initialised generator of the same architecture. A cell is compared with
the normal cells at its own and the 8 neighbouring positions (every `every`-th training frame);
a frame scores its worst cell, averaged over the last `smooth` frames. Normal statistics come
from training frames with their own video left out of the memory, so nothing here sees a test
label: the fused score adds the two scores, each standardised by its normal statistics.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.baselines import copy_errors
from svdgan.data.datasets import discover
from svdgan.data.frames import load_video, to_model_range
from svdgan.data.groundtruth import frame_labels
from svdgan.errors import UserError
from svdgan.evaluation.metrics import auc
from svdgan.model.checkpoint import SHIPPED_WEIGHTS, load_generator
from svdgan.model.generator import Generator
from svdgan.scoring.video import frame_score
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware
from svdgan.utils.series import causal_smooth

KINDS = ("pixels+change", "skip2", "skip2+change", "skip2 change")
GRID = 16  # cells per side


def _change(f: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> each frame's difference from the previous one (frame 0: from itself)."""
    return f - torch.cat([f[:1], f[:-1]])


def cell_features(kind: str, frames: torch.Tensor, skip2: torch.Tensor | None) -> torch.Tensor:
    """(N, C, S, S) frames in [-1, 1] and their skip2 (N, C2, S/4, S/4) -> (N, D, GRID, GRID)."""
    if kind == "pixels+change":
        cell = frames.shape[-1] // GRID
        pixels = F.avg_pool2d(frames, 2) if cell >= 4 else frames  # 4x4 values per 8x8 cell at 128 px
        step = pixels.shape[-1] // GRID
        both = torch.cat([pixels, _change(pixels)], 1)
        return F.unfold(both, step, stride=step).unflatten(2, (GRID, GRID))
    assert skip2 is not None
    pooled = F.adaptive_avg_pool2d(skip2, GRID)
    # the change is scaled up so both halves weigh about alike in the distance
    parts = {"skip2": [pooled], "skip2+change": [pooled, 3 * _change(pooled)], "skip2 change": [3 * _change(pooled)]}
    return torch.cat(parts[kind], 1)


def memory_bank(features: list[torch.Tensor], every: int) -> torch.Tensor:
    """Per-video (N, D, G, G) -> (G*G, M, D): for each cell, the normal cells at it and its 8 neighbours."""
    f = torch.cat([v[::every] for v in features])
    n, d, g, _ = f.shape
    padded = F.pad(f, (1, 1, 1, 1), mode="replicate")
    shifted = torch.stack([padded[:, :, dy:dy + g, dx:dx + g] for dy in range(3) for dx in range(3)], 1)
    return shifted.permute(3, 4, 0, 1, 2).reshape(g * g, n * 9, d)


def nearest_distances(bank: torch.Tensor, queries: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """(G*G, M, D) bank, (N, D, G, G) queries -> (N, G, G) distance to the nearest normal cell."""
    n, d, g, _ = queries.shape
    q = queries.permute(2, 3, 0, 1).reshape(g * g, n, d)
    out = torch.empty(g * g, n)
    for p in range(0, g * g, chunk):
        out[p:p + chunk] = torch.cdist(q[p:p + chunk], bank[p:p + chunk]).amin(-1)
    return out.T.reshape(n, g, g)


def memory_scores(train: list[torch.Tensor], test: list[torch.Tensor], every: int) -> tuple[np.ndarray, list]:
    """Normal scores (every training video against the others) and each test video's frame scores."""
    normal = [nearest_distances(memory_bank(train[:i] + train[i + 1:], every), video[::every]).flatten(1).amax(1)
              for i, video in enumerate(train)]
    bank = memory_bank(train, every)
    tests = [nearest_distances(bank, video).flatten(1).amax(1).double().numpy() for video in test]
    return torch.cat(normal).double().numpy(), tests


def _skip2(generator: Generator | None, frames: torch.Tensor) -> torch.Tensor | None:
    if generator is None:
        return None
    with torch.inference_mode():
        return torch.cat([generator.encoder.frame_features(frames[i:i + 64]).skip2 for i in range(0, len(frames), 64)])


def run(data: Path, model: Path, every: int = 4, smooth: int = 5, seed: int = 0) -> dict[str, Any]:
    dataset = discover(data)
    if dataset.ground_truth is None or not dataset.train:
        raise UserError(f"{data} needs training videos and test ground truth")
    trained, config, _ = load_generator(model)
    torch.manual_seed(seed)
    generators = {"trained": trained.eval(), "random": Generator(config.model).eval()}
    size, channels = config.model.size, config.model.channels

    def load(videos: list) -> list[torch.Tensor]:
        return [to_model_range(load_video(v, size, channels)) for v in videos]

    start = time.perf_counter()
    train_frames, test_frames = load(dataset.train), load(dataset.test)
    labels = np.concatenate([frame_labels(t, len(f), v.name) for v, t, f in
                             zip(dataset.test, dataset.ground_truth, test_frames, strict=True)])
    patch = 16
    copy_train = np.concatenate([causal_smooth(frame_score(copy_errors(f, patch), patch).double().numpy(), smooth)
                                 for f in train_frames])
    copy_test = np.concatenate([causal_smooth(frame_score(copy_errors(f, patch), patch).double().numpy(), smooth)
                                for f in test_frames])

    def standardised(scores: np.ndarray, normal: np.ndarray) -> np.ndarray:
        return (scores - normal.mean()) / max(normal.std(), 1e-12)

    rows = [{"features": "none (no model: frame t-1 as the prediction, worst 16x16 patch)", "generator": None,
             "memory_auc": None, "fused_auc": auc(copy_test, labels)}]
    skips = {name: ([_skip2(g, f) for f in train_frames], [_skip2(g, f) for f in test_frames])
             for name, g in generators.items()}
    for kind in KINDS:
        for name in ([None] if kind == "pixels+change" else generators):
            tr_skip, te_skip = skips[name] if name else ([None] * len(train_frames), [None] * len(test_frames))
            train_f = [cell_features(kind, f, s) for f, s in zip(train_frames, tr_skip)]
            test_f = [cell_features(kind, f, s) for f, s in zip(test_frames, te_skip)]
            normal, tests = memory_scores(train_f, test_f, every)
            memory = np.concatenate([causal_smooth(s, smooth) for s in tests])
            fused = standardised(memory, normal) + standardised(copy_test, copy_train)
            rows.append({"features": kind, "generator": name, "memory_auc": auc(memory, labels),
                         "fused_auc": auc(fused, labels)})
            print(f"{kind:14s} {name or '-':8s} memory {rows[-1]['memory_auc']:.4f}  fused with no-model "
                  f"{rows[-1]['fused_auc']:.4f}", file=sys.stderr, flush=True)
    return {"data": str(data), "model": str(model), "every": every, "smooth": smooth, "seed": seed,
            "n_frames": int(len(labels)), "rows": rows, "seconds": round(time.perf_counter() - start, 1),
            "hardware": hardware()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--model", default=SHIPPED_WEIGHTS, type=Path)
    parser.add_argument("--every", type=int, default=4, help="every n-th training frame goes into the memory")
    parser.add_argument("--smooth", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.every < 1 or args.smooth < 1:
            raise UserError("--every and --smooth must be at least 1")
        results = run(args.data, args.model, args.every, args.smooth)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    print(f"micro AUC on {results['n_frames']} test frames ({describe(results['hardware'])}):")
    for r in results["rows"]:
        memory = f"{r['memory_auc']:.4f}" if r["memory_auc"] is not None else "-"
        print(f"  {r['features']:60.60s} {r['generator'] or '-':8s} memory {memory}  fused {r['fused_auc']:.4f}")
    if args.json:
        write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Which attribute groups of the memory of normal objects the `memory.objects` option uses, chosen
where choosing is allowed: on the synthetic scene (issue 22). Micro AUC of the cells alone and of
the cells with each set of object groups (the sum of the two, each standardised by normal scores
held out video by video, as `svdgan train` fits them), on three scenes drawn from three seeds at the
working height; the set with the best mean is printed as the choice.

    python -m research.objects_on_synth --json benchmarks/results/objects_on_synth.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from research.object_probe import evaluate, extract, motion
from research.recipe_on_synth import SCENE
from svdgan.config import MemoryConfig
from svdgan.data.synth import SynthConfig, write_synthetic
from svdgan.errors import UserError
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware


def scene_rows(scene: SynthConfig, config: MemoryConfig, smooth: int) -> dict[str, float]:
    """parts ('cells', 'cells+size', ...) -> micro AUC on one synthetic scene."""
    with tempfile.TemporaryDirectory() as tmp:
        features = extract(motion(write_synthetic(Path(tmp) / "scene", scene), config, None), config)
    rows = evaluate(features, config, smooth)["rows"]
    return {r["parts"]: r["micro_auc"] for r in rows if r["parts"] == "cells" or r["parts"].startswith("cells+")}


def run(scene: SynthConfig, seeds: int, smooth: int = 5) -> dict[str, Any]:
    start, config = time.perf_counter(), MemoryConfig(enabled=True)
    per_seed = []
    for k in range(seeds):
        per_seed.append(scene_rows(SynthConfig(**{**scene.__dict__, "seed": scene.seed + k}), config, smooth))
        print(f"scene {k + 1} of {seeds} done", file=sys.stderr, flush=True)
    rows = [{"parts": parts, "micro_auc": float(np.mean([s[parts] for s in per_seed])),
             "per_seed": [s[parts] for s in per_seed]} for parts in per_seed[0]]
    rows.sort(key=lambda r: -r["micro_auc"])
    best = rows[0]["parts"]
    return {"scene": scene.__dict__, "seeds": seeds, "cell": config.cell, "smooth": smooth, "rows": rows,
            "choice": [] if best == "cells" else best.split("+")[1:],
            "seconds": round(time.perf_counter() - start, 1), "hardware": hardware()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=SCENE.train_videos, help="normal and test videos each")
    parser.add_argument("--seeds", type=int, default=3, help="scenes drawn (seeds 7, 8, ...); their mean AUC decides")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    try:
        if min(args.videos, args.seeds) < 1:
            raise UserError("--videos and --seeds must be at least 1")
        scene = SynthConfig(**{**SCENE.__dict__, "train_videos": args.videos, "test_videos": args.videos})
        results = run(scene, args.seeds)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    for r in results["rows"]:
        print(f"  {r['parts']:28s} {r['micro_auc']:.4f} ({', '.join(f'{v:.4f}' for v in r['per_seed'])})")
    print(f"chosen on the synthetic scene ({describe(results['hardware'])}, {results['seconds']:.0f} s): "
          f"memory.objects=[{','.join(results['choice'])}]")
    if args.json:
        write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training memory against dataset size, extrapolated to ShanghaiTech (274,515 training frames).

    python -m benchmarks.memory [--frames 1000 3000] [--json benchmarks/results/memory.json]

Writes synthetic datasets of the given numbers of training frames (videos of 250 frames), trains
the paper's configuration for two steps on each, in memory and with `train.cache_dir`, in a
fresh process each time, and records its peak resident memory. A straight line through the
in-memory points, extended to ShanghaiTech's size, is the estimate for training without the
cache; with it, resident memory does not grow with the dataset.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from svdgan.data.synth import SynthConfig, write_synthetic
from svdgan.utils.files import write_results
from svdgan.utils.hardware import hardware

SHANGHAITECH_TRAIN_FRAMES = 274_515
FRAMES_PER_VIDEO = 250

_CHILD = """
import resource, sys
from svdgan.cli import main
code = main(sys.argv[1:])
print("PEAK_RSS_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
sys.exit(code)
"""


def peak_rss_mb(data: Path, out: Path, cache: Path | None) -> float:
    args = ["train", "--data", str(data), "--out", str(out), "--quiet", "--set", "train.steps=2",
            "--set", "train.stats_frames=7", "--set", "train.precision=auto"]
    if cache is not None:
        args += ["--set", f"train.cache_dir={cache}"]
    result = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, check=True)
    return float(result.stdout.split("PEAK_RSS_MB")[1].split()[0])


def run(frame_counts: list[int]) -> dict[str, Any]:
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        for frames in frame_counts:
            videos = max(1, frames // FRAMES_PER_VIDEO)
            data = write_synthetic(Path(tmp) / f"data{frames}", SynthConfig(
                width=160, height=120, train_videos=videos, test_videos=1, frames=FRAMES_PER_VIDEO))
            cache = Path(tmp) / f"cache{frames}"
            peak_rss_mb(data, Path(tmp) / f"warm{frames}", cache)  # fills the cache (decodes once)
            points.append({"train_frames": videos * FRAMES_PER_VIDEO,
                           "in_memory_mb": peak_rss_mb(data, Path(tmp) / f"mem{frames}", None),
                           "cached_mb": peak_rss_mb(data, Path(tmp) / f"cached{frames}", cache)})
            print(json.dumps(points[-1]), file=sys.stderr, flush=True)
    x = np.array([p["train_frames"] for p in points], dtype=float)
    y = np.array([p["in_memory_mb"] for p in points])
    slope, intercept = np.polyfit(x, y, 1)
    return {"hardware": hardware(), "config": "paper's (128 px, 3 channels, T = 7, batch 3), precision auto",
            "points": points,
            "in_memory_mb_per_1000_frames": slope * 1000, "in_memory_base_mb": intercept,
            "shanghaitech_train_frames": SHANGHAITECH_TRAIN_FRAMES,
            "shanghaitech_in_memory_estimate_gb": (intercept + slope * SHANGHAITECH_TRAIN_FRAMES) / 1024,
            "cached_mb_range": [min(p["cached_mb"] for p in points), max(p["cached_mb"] for p in points)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[1000, 3000], help="training frames per run")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/memory.json"))
    args = parser.parse_args(argv)
    results = run(args.frames)
    write_results(args.json, results)
    print(f"in memory: {results['in_memory_base_mb']:.0f} MB + {results['in_memory_mb_per_1000_frames']:.1f} MB "
          f"per 1000 training frames -> ShanghaiTech ({SHANGHAITECH_TRAIN_FRAMES:,} frames): "
          f"{results['shanghaitech_in_memory_estimate_gb']:.1f} GB; with train.cache_dir: "
          f"{results['cached_mb_range'][0]:.0f} to {results['cached_mb_range'][1]:.0f} MB at every size measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())

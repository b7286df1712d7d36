"""`svdgan serve` under load: N synthetic cameras at a frame rate, fast mode, for a while.

    python -m benchmarks.serve [--cameras 8] [--fps 5] [--minutes 10] [--json benchmarks/results/serve_avx2.json]
    python -m benchmarks.serve --soak [--minutes 30] [--json F]   # through faults: benchmarks/soak.py

Runs the serve engine (scoring, events, clips, snapshots; the HTTP layer only reads its state)
with the shipped model on N live synthetic cameras (`synthetic:SEED`, each calibrated on its own
normal clips first), and reports per camera the frames scored, frames/s, latency p50/p99 and the
frames dropped to stay live, and the process's resident memory over time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from svdgan.evaluation.generator_speed import resident_mb
from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.engine import Engine
from svdgan.serve.store import EventStore
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware


def run(cameras: int = 8, fps: float = 5.0, minutes: float = 10.0, checkpoint: str | None = None,
        sample_every_s: float = 30.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as storage:
        config = ServeConfig([CameraConfig(f"cam{k}", f"synthetic:{k}", fps=fps) for k in range(cameras)],
                             storage=storage, checkpoint=checkpoint, mode="fast")
        started = time.perf_counter()
        engine = Engine(config, EventStore(storage))
        setup_s = time.perf_counter() - started
        engine.start()
        memory, start = [], time.perf_counter()
        while (elapsed := time.perf_counter() - start) < minutes * 60:
            time.sleep(min(sample_every_s, max(minutes * 60 - elapsed, 0.1)))
            memory.append({"seconds": round(time.perf_counter() - start, 1), "rss_mb": round(resident_mb(), 1)})
            print(json.dumps({"seconds": memory[-1]["seconds"], "rss_mb": memory[-1]["rss_mb"],
                              "frames": sum(c.frames for c in engine.cameras.values())}), flush=True)
        health = [c.health() for c in engine.cameras.values()]
        seconds = time.perf_counter() - start
        engine.stop()
        events = len(engine.store.list(limit=100000))
    return {"hardware": hardware(), "cameras": cameras, "fps_per_camera": fps, "seconds": round(seconds, 1),
            "setup_seconds": round(setup_s, 1), "model": checkpoint or "the shipped UCSD Ped2 model", "mode": "fast",
            "events": events, "per_camera": [{**h, "scored_fps": round(h["frames"] / seconds, 2)} for h in health],
            "memory": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--fps", type=float, default=5.0, help="frames per second of each camera")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--checkpoint", help="model (default: the shipped one)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--soak", action="store_true", help="the soak test through faults (4 cameras, 50 clients)")
    args = parser.parse_args()
    if args.soak:
        from benchmarks.soak import format_soak, soak

        results = soak(args.minutes)
        print(format_soak(results))
        if args.json:
            write_results(args.json, results)
        return
    results = run(args.cameras, args.fps, args.minutes, args.checkpoint)
    print(describe(results["hardware"]))
    print(f"{args.cameras} synthetic cameras at {args.fps:g} frames/s, fast mode, {results['seconds']:.0f} s "
          f"(set-up and calibration {results['setup_seconds']:.0f} s), {results['events']} events")
    for c in results["per_camera"]:
        print(f"  {c['camera']}: {c['frames']} frames scored ({c['scored_fps']:.2f}/s), latency p50 "
              f"{c['latency_ms_p50']} ms p99 {c['latency_ms_p99']} ms, {c['dropped']} dropped")
    mem = results["memory"]
    if mem:
        print(f"resident memory: {mem[0]['rss_mb']:.0f} MB at {mem[0]['seconds']:.0f} s, "
              f"{mem[-1]['rss_mb']:.0f} MB at {mem[-1]['seconds']:.0f} s")
    if args.json:
        write_results(args.json, results)


if __name__ == "__main__":
    main()

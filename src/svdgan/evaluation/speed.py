"""`svdgan benchmark`: what the detector costs on this processor, measured inside the Detector that
every command scores through.

    svdgan benchmark [--checkpoint CKPT | --config F.yaml] [--frames 200] [--streams 8] [--json F]

The detector is a model file (default: the shipped one) or a recipe fitted on the synthetic
camera's own normal clips. Its frames come from the synthetic camera (walkers, so that every stage
has work) at the memory's frame size. Reported: each stage's milliseconds a frame, the whole
frame's, frames/s on one stream, then 1..N streams scored together (per-stream and aggregate
frames/s, the p99 of a round, how many streams keep `LIVE_FPS` each), and with --memory-frames the
resident memory over a long stream. A recipe with a generator has it timed too (its windowed,
exact and fast modes: evaluation/generator_speed.py).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from svdgan.config import Config, load_config
from svdgan.errors import UserError
from svdgan.evaluation.generator_speed import format_results, generator_speed, resident_mb
from svdgan.memory.fitting import GeneratorFit
from svdgan.model.checkpoint import generator_from
from svdgan.model.generator import Generator
from svdgan.objects.appearance import ObjectGenerator, object_generator_config
from svdgan.scoring.detector import Detector
from svdgan.scoring.fit import fit_frames
from svdgan.sources.synthetic import SynthSource
from svdgan.sources.video import Frame
from svdgan.utils.clock import StageClock, latency_summary
from svdgan.utils.fpmode import flushed_denormals
from svdgan.utils.hardware import describe, hardware

LIVE_FPS = 10  # a camera's frame rate, for how many streams one machine keeps live
FIT_CLIPS = 4  # the synthetic camera's normal clips a recipe is fitted on (80 frames each)
WARM_FRAMES = 3  # frames scored before timing (the flow's buffers, the k-d trees built)


def camera_frames(n: int, size: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """The synthetic camera's live frames, (h, w) = size: anomalies and all."""
    source = SynthSource("benchmark", seed, size=(size[1], size[0]))
    return list(itertools.islice((f for clip, _, _ in source.labelled_clips() for f in clip), n))


def untrained_objects(config: Config) -> GeneratorFit | None:
    """A generator on objects with random weights, for a recipe whose objects have the `error` group."""
    if "error" not in config.memory.objects:
        return None
    objects = object_generator_config(config.memory)
    return lambda clips: ObjectGenerator(Generator(objects.model), objects)


def fitted_recipe(config: Config, frame_size: tuple[int, int] = (240, 320)) -> Detector:
    """A recipe as a detector, fitted on the synthetic camera's own normal clips; a generator it has
    gets random weights, which cost what trained ones do."""
    source = SynthSource("benchmark", 0, size=(frame_size[1], frame_size[0]))
    payload: dict[str, Any] = {"config": config.to_dict()}
    generator = None
    if config.score.generator:
        torch.manual_seed(0)
        payload["generator"] = Generator(config.model).state_dict()
        generator = generator_from(payload, config, "(random weights)")
    stats, memory = fit_frames(config, source.normal_clips(FIT_CLIPS), generator, untrained_objects(config))
    payload["score_stats"] = stats
    if memory is not None:
        payload["motion"] = memory.to_payload()
    return Detector.from_payload(Path("(recipe fitted on the synthetic camera)"), payload)


def frame_size(detector: Detector) -> tuple[int, int]:
    """(h, w) of the frames the detector's memory fits (without a memory: 240 x 320)."""
    return tuple(detector.memory.frame_size) if detector.memory is not None else (240, 320)


@flushed_denormals()  # as the generator's scoring runs
def detector_speed(detector: Detector, frames: int = 200, streams: int = 8,
                   memory_frames: int = 0) -> dict[str, Any]:
    """Each stage's cost a frame, one stream; then 1..streams streams scored together."""
    images = camera_frames(frames + WARM_FRAMES, frame_size(detector))
    clock, stream = StageClock(), detector.open("benchmark", normalised=False)
    seconds = []
    for t, image in enumerate(images):
        if t == WARM_FRAMES:
            clock = StageClock()
        start = time.perf_counter()
        detector.score([(stream, Frame(t, t / LIVE_FPS, image))], clock if t >= WARM_FRAMES else StageClock())
        if t >= WARM_FRAMES:
            seconds.append(time.perf_counter() - start)
    detector.close(stream)
    stages = clock.ms_per_frame(len(seconds))
    total = 1000 * float(np.mean(seconds))
    results = {"stages_ms": stages, "ms_per_frame": total, "fps": 1000 / total, "frames": len(seconds),
               "latency_ms": latency_summary(seconds), "frame_size": list(frame_size(detector))}
    if streams:
        results["streams"] = _streams(detector, images, streams)
    if memory_frames:
        results["resident_memory"] = _resident(detector, images, memory_frames)
    return results


def _streams(detector: Detector, images: list[np.ndarray], most: int, rounds: int = 30) -> dict[str, Any]:
    """n = 1..most sources scored together, a round of n frames at a time, as serve scores its cameras."""
    per_n = []
    for n in range(1, most + 1):
        ids = [detector.open(f"camera {k}", normalised=False) for k in range(n)]
        seconds = []
        for t in range(rounds + WARM_FRAMES):
            batch = [(s, Frame(t, t / LIVE_FPS, images[(t + 7 * k) % len(images)])) for k, s in enumerate(ids)]
            start = time.perf_counter()
            detector.score(batch)
            if t >= WARM_FRAMES:
                seconds.append(time.perf_counter() - start)
        for s in ids:
            detector.close(s)
        fps = n * len(seconds) / sum(seconds)
        per_n.append({"streams": n, "frames_per_second": fps, "per_stream_fps": fps / n,
                      "round_ms_p99": latency_summary(seconds)["p99"]})
    live = [p["streams"] for p in per_n if p["per_stream_fps"] >= LIVE_FPS]
    return {"live_fps": LIVE_FPS, "streams_at_live_fps": max(live, default=0), "by_streams": per_n}


def _resident(detector: Detector, images: list[np.ndarray], frames: int) -> list[dict[str, float]]:
    """Resident memory while one stream scores `frames` frames: it stays flat."""
    stream, points, every = detector.open("long", normalised=False), [], max(frames // 10, 1)
    for t in range(frames):
        detector.score([(stream, Frame(t, t / LIVE_FPS, images[t % len(images)]))])
        if (t + 1) % every == 0 or t + 1 == frames:
            points.append({"frames": t + 1, "rss_mb": resident_mb()})
    detector.close(stream)
    return points


def run(checkpoint: str | Path | None = None, config_path: str | Path | None = None, frames: int = 200,
        streams: int = 8, memory_frames: int = 0, precision: str = "auto", generator_frames: int = 100,
        size: int | None = None) -> dict[str, Any]:
    """The benchmark's figures: the detector's, and its generator's where it has one."""
    if checkpoint is not None and config_path is not None:
        raise UserError("give --checkpoint (a model file) or --config (a recipe fitted on the synthetic camera)")
    if frames < 10 or streams < 0 or memory_frames < 0:
        raise UserError("--frames must be at least 10, --streams and --memory-frames at least 0")
    if config_path is not None:
        config = load_config(config_path, [f"model.size={size}"] if size else [])
        detector = fitted_recipe(config)
        named = {"recipe": str(config_path)}
    else:
        if size is not None:
            raise UserError("--size is a recipe's generator size: it needs --config")
        detector = Detector.load(checkpoint, precision=precision)
        named = {"checkpoint": str(detector.path)}
    results: dict[str, Any] = {"detector": {**named, "parts": detector.describe()}, "hardware": hardware(),
                               **detector_speed(detector, frames, streams, memory_frames)}
    generator = getattr(detector.scorer, "generator", None)
    results["generator"] = None if generator is None else generator_speed(
        generator, detector.config, named.get("recipe", named.get("checkpoint")), generator_frames, precision,
        streams)
    return results


def format_speed(r: dict[str, Any]) -> str:
    d = r["detector"]
    h, w = r["frame_size"]
    lines = [describe(r["hardware"]),
             f"the detector: {d.get('checkpoint') or d.get('recipe')} ({d['parts']}), on the synthetic camera at "
             f"{w}x{h}, {r['frames']} frames:"]
    for stage, ms in r["stages_ms"].items():
        lines.append(f"  {stage:<10}{ms:7.2f} ms a frame")
    lat = r["latency_ms"]
    lines.append(f"  whole frame {r['ms_per_frame']:.1f} ms ({r['fps']:.0f} frames/s on one stream; p99 "
                 f"{lat['p99']:.1f} ms)")
    if r.get("streams"):
        s = r["streams"]
        lines.append("streams scored together: " + ", ".join(
            f"{p['streams']}: {p['per_stream_fps']:.0f}" for p in s["by_streams"]) + " frames/s per stream")
        n = s["streams_at_live_fps"]
        lines.append(f"  {n} stream{'' if n == 1 else 's'} at {s['live_fps']} frames/s each on this machine")
    if r.get("resident_memory"):
        first, last = r["resident_memory"][0], r["resident_memory"][-1]
        lines.append(f"resident memory {first['rss_mb']:.0f} MB after {first['frames']} frames, "
                     f"{last['rss_mb']:.0f} MB after {last['frames']}")
    if r.get("generator"):
        lines.append(format_results(r["generator"]))
    return "\n".join(lines)

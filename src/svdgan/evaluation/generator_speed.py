"""The SVD-GAN generator's scoring speed, where a recipe has one: the authors' windowed procedure, the
exact and the fast streaming modes, and how many streams one machine scores together.

All three score the same frames, one stream, one frame at a time, in one run:
    windowed  the authors' test procedure: the whole T-frame window is generated for every output
              frame, 8 windows per forward pass (windowed_batch1: one at a time; windowed_naive:
              8 at a time, each window encoded and decoded whole as a line-by-line port would)
    exact     svdgan's streaming exact mode (scores equal `svdgan evaluate`'s)
    fast      svdgan's streaming fast mode (the ConvLSTM state is carried)
Then the capacity: 1..N streams scored together in fast mode (one batched pass per round of
frames), and how many of them one machine keeps at 10 frames/s each. Every figure is recorded
beside the processor's vector extensions, the thread count and the measured convolution peak;
bf16 rows only where the processor runs bfloat16 natively (emulated, it is about 30x slower).
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from svdgan.config import Config
from svdgan.errors import UserError
from svdgan.model.generator import Generator
from svdgan.model.info import count_flops
from svdgan.scoring.stream import StreamScorer
from svdgan.scoring.video import generate_windows
from svdgan.utils.clock import latency_summary
from svdgan.utils.fpmode import flushed_denormals
from svdgan.utils.hardware import hardware
from svdgan.utils.precision import resolve_precision

WINDOW_BATCH = 8  # windows per forward pass in the authors' procedure, as their measured 9.6 frames/s
LIVE_FPS = 10  # the camera rate of the capacity figure


def random_frames(n: int, config: Config, seed: int = 0) -> torch.Tensor:
    """A moving-bars test stream in [-1, 1]: (N, C, S, S)."""
    cfg = config.model
    y, x = np.mgrid[0:cfg.size, 0:cfg.size]
    frames = [np.sin((x + 3 * t) / 6.0) * np.cos((y - 2 * t) / 9.0) for t in range(n)]
    noise = np.random.default_rng(seed).normal(0, 0.05, (n, cfg.size, cfg.size))
    video = np.clip(np.stack(frames) * 0.8 + noise, -1, 1).astype(np.float32)
    return torch.from_numpy(video)[:, None].expand(n, cfg.channels, cfg.size, cfg.size).contiguous()


@torch.inference_mode()
def _time_windowed(generator: Generator, frames: torch.Tensor, clip_len: int, batch: int = 1,
                   naive: bool = False) -> list[float]:
    """Seconds per output frame; with batch > 1, windows of consecutive frames go through the
    generator together (as the authors' offline test code does) and each frame is charged its
    batch's time divided by the batch size. naive: each window encoded and decoded whole, as a
    line-by-line port would (`generator.reconstruct`), instead of svdgan's `generate_windows`."""
    times = []
    ends = list(range(clip_len - 1, len(frames)))
    for i in range(0, len(ends) - batch + 1, batch):
        group = ends[i:i + batch]
        start = time.perf_counter()
        if naive:
            generator.reconstruct(torch.stack([frames[t - clip_len + 1:t + 1] for t in group]))
        else:
            generate_windows(generator, frames, group, clip_len)
        times += [(time.perf_counter() - start) / batch] * batch
    return times


def time_stream(scorer: StreamScorer, frames: torch.Tensor) -> list[float]:
    times = []
    for t in range(len(frames)):
        start = time.perf_counter()
        scorer.push(frames[t:t + 1])
        times.append(time.perf_counter() - start)
    return times


def best_segment_fps(seconds: list[float], segments: int = 4) -> float:
    """Frames/s over the fastest of `segments` equal runs of consecutive frames: measured as the
    peak is (its best burst), so a moment of contention on a shared machine lowers neither."""
    parts = np.array_split(np.asarray(seconds), min(segments, len(seconds)))
    return max(len(part) / part.sum() for part in parts)


def conv_throughput(seconds: float = 2.0, bursts: int = 4) -> float:
    """FLOP/s this machine reaches on a large 3x3 convolution (fp32, channels-last): the yardstick.
    The best of several short bursts, so a moment of contention on a shared machine does not lower it."""
    conv = torch.nn.Conv2d(128, 128, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x = torch.randn(8, 128, 64, 64).contiguous(memory_format=torch.channels_last)
    flops = 2 * 8 * 128 * 128 * 9 * 64 * 64
    best = 0.0
    with torch.inference_mode():
        for _ in range(3):
            conv(x)
        for _ in range(bursts):
            runs, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds / bursts:
                conv(x)
                runs += 1
            best = max(best, flops * runs / (time.perf_counter() - start))
    return best


def stream_flops(generator: Generator, config: Config, mode: str) -> float:
    """FLOPs of one steady-state streaming step."""
    frames = random_frames(config.model.clip_len + 2, config)
    scorer = StreamScorer(generator, config, mode)
    for t in range(len(frames) - 1):
        scorer.push(frames[t:t + 1])
    return float(count_flops(lambda: scorer.push(frames[-1:])))


def resident_mb() -> float:
    """This process's resident memory now (not its peak, which earlier work may have set)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, where /proc is missing


def capacity(generator: Generator, config: Config, max_streams: int, rounds: int = 20) -> dict[str, Any]:
    """Fast mode with n = 1..max_streams streams scored together: aggregate frames/s, per stream,
    and the most streams that each get LIVE_FPS frames/s (a round of n frames within 1/LIVE_FPS s)."""
    frames = random_frames(rounds + 2, config)
    per_n = []
    for n in range(1, max_streams + 1):
        scorer = StreamScorer(generator, config, "fast")
        batch = [frames[t:t + 1].expand(n, -1, -1, -1).contiguous() for t in range(len(frames))]
        for x in batch[:2]:  # warm-up, and the first (fresh-state) step
            scorer.push(x)
        seconds = _time_stream_batches(scorer, batch[2:])
        fps = n * len(seconds) / sum(seconds)
        per_n.append({"streams": n, "frames_per_second": fps, "per_stream_fps": fps / n,
                      "round_ms_p99": latency_summary(seconds)["p99"]})
    live = [p["streams"] for p in per_n if p["per_stream_fps"] >= LIVE_FPS]
    return {"live_fps": LIVE_FPS, "streams_at_live_fps": max(live, default=0), "by_streams": per_n}


def _time_stream_batches(scorer: StreamScorer, batches: list[torch.Tensor]) -> list[float]:
    times = []
    for x in batches:
        start = time.perf_counter()
        scorer.push(x)
        times.append(time.perf_counter() - start)
    return times


def precisions_to_run(requested: str) -> tuple[str, ...]:
    """fp32 always; bf16 beside it where native (auto) or when asked for (bf16, with a warning if emulated)."""
    if requested == "fp32":
        return ("fp32",)
    return ("fp32", "bf16") if resolve_precision(requested) == "bf16" else ("fp32",)


@flushed_denormals()  # as StreamScorer and training run the generator
def generator_speed(generator: Generator, config: Config, source: str, n_frames: int = 100, precision: str = "auto",
                    streams: int = 8) -> dict[str, Any]:
    """fp32 figures under the names of the issue (windowed_fps, ...); bf16 autocast ones with a _bf16 suffix."""
    if n_frames < WINDOW_BATCH:
        raise UserError(f"--frames must be at least {WINDOW_BATCH}")
    precisions = precisions_to_run(precision)
    clip_len = config.model.clip_len
    frames = random_frames(n_frames + clip_len - 1, config)
    warm = frames[:clip_len + 2]
    results: dict[str, Any] = {"model": source, "size": config.model.size, "clip_len": clip_len,
                               "frames_per_mode": n_frames, "hardware": hardware()}
    with torch.inference_mode():
        windowed_flops = float(count_flops(lambda: generator.reconstruct(frames[None, :clip_len])))
    flops = {"windowed": windowed_flops, "windowed_batch1": windowed_flops, "windowed_naive": windowed_flops,
             "exact": stream_flops(generator, config, "exact"), "fast": stream_flops(generator, config, "fast")}
    peak = conv_throughput()  # measured again after the modes; the higher counts
    results["conv_peak_flops"] = peak
    for precision in precisions:
        suffix = "" if precision == "fp32" else f"_{precision}"
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            _time_windowed(generator, frames[:clip_len + 2 * WINDOW_BATCH], clip_len, WINDOW_BATCH)  # warm-up
            times = {"windowed": _time_windowed(generator, frames, clip_len, WINDOW_BATCH),
                     "windowed_batch1": _time_windowed(generator, frames, clip_len),
                     "windowed_naive": _time_windowed(generator, frames, clip_len, WINDOW_BATCH, naive=True)}
        for mode in ("exact", "fast"):
            time_stream(StreamScorer(generator, config, mode, precision), warm)
            times[mode] = time_stream(StreamScorer(generator, config, mode, precision), frames[:n_frames])
        for mode, seconds in times.items():
            results[f"{mode}_fps{suffix}"] = len(seconds) / sum(seconds)
            results[f"{mode}_fps_best_segment{suffix}"] = best_segment_fps(seconds)
            results.setdefault(f"latency_ms{suffix}", {})[mode] = latency_summary(seconds)
        results[f"exact_over_windowed{suffix}"] = results[f"exact_fps{suffix}"] / results[f"windowed_fps{suffix}"]
        results[f"fast_over_windowed{suffix}"] = results[f"fast_fps{suffix}"] / results[f"windowed_fps{suffix}"]
    results["conv_peak_flops_after"] = conv_throughput()
    peak = results["conv_peak_flops"] = max(peak, results["conv_peak_flops_after"])
    for suffix in ("" if p == "fp32" else f"_{p}" for p in precisions):
        # like for like: the peak is the best of PEAK_BURSTS bursts, so each mode's FLOP/s is its best
        # of as many equal segments of its frames; the fraction at its mean frames/s is kept beside it
        results[f"peak_fraction{suffix}"] = {mode: flops[mode] * results[f"{mode}_fps_best_segment{suffix}"] / peak
                                             for mode in flops}
        results[f"peak_fraction_at_mean{suffix}"] = {mode: flops[mode] * results[f"{mode}_fps{suffix}"] / peak
                                                     for mode in flops}
    results["flops_per_frame"] = flops
    if streams:
        results["capacity"] = capacity(generator, config, streams)
    return results


def format_results(r: dict[str, Any]) -> str:
    lines = [f"the generator: {r['model']}, {r['size']} px, T = {r['clip_len']}, {r['frames_per_mode']} frames "
             f"per mode; conv peak {r['conv_peak_flops'] / 1e9:.0f} GFLOP/s (fp32)"]
    for suffix, name in (("", "fp32"), ("_bf16", "bf16 autocast")):
        if f"windowed_fps{suffix}" not in r:
            continue
        lines.append(f"{name}:")
        for mode in ("windowed", "windowed_batch1", "windowed_naive", "exact", "fast"):
            lat = r[f"latency_ms{suffix}"][mode]
            lines.append(f"  {mode:<16}{r[f'{mode}_fps{suffix}']:7.1f} frames/s  latency ms: mean {lat['mean']:.1f} "
                         f"var {lat['var']:.2f} p50 {lat['p50']:.1f} p99 {lat['p99']:.1f} max {lat['max']:.1f}  "
                         f"{r['flops_per_frame'][mode] / 1e9:.2f} GFLOP/frame, "
                         f"{r[f'peak_fraction{suffix}'][mode]:.0%} of peak "
                         f"({r[f'peak_fraction_at_mean{suffix}'][mode]:.0%} at the mean)")
        lines.append(f"  exact / windowed {r[f'exact_over_windowed{suffix}']:.2f}x, "
                     f"fast / windowed {r[f'fast_over_windowed{suffix}']:.2f}x")
    if r.get("capacity"):
        cap = r["capacity"]
        lines.append("capacity, fast mode, streams scored together: "
                     + ", ".join(f"{p['streams']}: {p['per_stream_fps']:.1f}" for p in cap["by_streams"])
                     + " frames/s per stream")
        n = cap["streams_at_live_fps"]
        lines.append(f"  {n} stream{'' if n == 1 else 's'} at {cap['live_fps']} frames/s each on this machine")
    return "\n".join(lines)

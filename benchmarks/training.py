"""Training throughput at the paper's configuration (128 px, T = 7, batch 3), and the SVD loss's cost.

    python -m benchmarks.training [--steps 6] [--json benchmarks/results/training.json]

Times full training steps (generator and discriminator updates) on random clips, after warm-up,
in fp32 and, where the processor runs bfloat16 natively (or with --bf16), in bf16 autocast, and
times the SVD loss alone on the same batch.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from svdgan.config import Config, TrainConfig
from svdgan.evaluation.generator_speed import precisions_to_run
from svdgan.model.losses import svd_loss
from svdgan.training.step import Models, train_step
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware

AUTHORS_KERAS_CLIPS_PER_S = 0.96  # ../shared/paper/NOTES.md, measured on this kind of machine


def _median_seconds(fn, steps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(steps: int, precisions: tuple[str, ...] = ("fp32",)) -> dict:
    results: dict = {"hardware": hardware(), "torch": torch.__version__}
    for precision in precisions:
        config = Config(train=TrainConfig(precision=precision))
        torch.manual_seed(0)
        models = Models(config)
        m = config.model
        clips = torch.rand(config.train.batch_size, m.clip_len, m.channels, m.size, m.size) * 2 - 1
        step_s = _median_seconds(lambda m=models, c=clips, cfg=config: train_step(m, c, cfg), steps)
        results[precision] = {"seconds_per_step": step_s,
                              "clips_per_second": config.train.batch_size / step_s}
    fake = (torch.rand_like(clips) * 2 - 1).requires_grad_()
    svd_s = _median_seconds(lambda: svd_loss(clips, fake, config.loss.svd_rank).backward(), steps)
    results["svd_loss_seconds"] = svd_s
    results["svd_loss_fraction_of_fp32_step"] = svd_s / results["fp32"]["seconds_per_step"]
    results["authors_keras_clips_per_second"] = AUTHORS_KERAS_CLIPS_PER_S
    results["config"] = {"size": m.size, "clip_len": m.clip_len, "batch_size": config.train.batch_size,
                         "svd_rank": config.loss.svd_rank}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="timed steps per precision")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                        help="auto: a bf16 row only where bfloat16 is native; bf16: one anyway")
    args = parser.parse_args()
    results = measure(args.steps, precisions_to_run(args.precision))
    print(describe(results["hardware"]))
    for precision in ("fp32", "bf16"):
        if precision not in results:
            continue
        r = results[precision]
        print(f"{precision}: {r['seconds_per_step']:.2f} s per step, {r['clips_per_second']:.2f} clips/s "
              f"(authors' Keras code: {AUTHORS_KERAS_CLIPS_PER_S} clips/s)")
    print(f"SVD loss (forward + backward): {results['svd_loss_seconds'] * 1000:.0f} ms, "
          f"{results['svd_loss_fraction_of_fp32_step']:.1%} of an fp32 step")
    if args.json:
        write_results(args.json, results)


if __name__ == "__main__":
    main()

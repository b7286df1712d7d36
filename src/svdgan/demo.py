"""`svdgan demo`: synthesise a scene, train on its normal videos, evaluate, write the report."""

from __future__ import annotations

import json
import time
from pathlib import Path

from svdgan.config import Config, ModelConfig, TrainConfig
from svdgan.data.synth import SynthConfig, write_synthetic
from svdgan.errors import UserError
from svdgan.evaluation.report import evaluate_checkpoint
from svdgan.training.loop import train


def demo_config(steps: int | None = None) -> Config:
    """The demo's embedded configuration: the paper's architecture, narrower and at 64 px,
    so that training fits in a few minutes on two CPU cores."""
    config = Config(
        model=ModelConfig(size=64, conv1_channels=32, conv2_channels=32, lstm_channels=(32, 32, 32, 64),
                          decoder_channels=32),
        train=TrainConfig(steps=steps or 600, batch_size=4, checkpoint_every=250, preview_every=250,
                          log_every=10, stats_frames=320),
    )
    return config.validate()


def run_demo(out: Path, steps: int | None = None) -> dict:
    if steps is not None and steps < 1:
        raise UserError("--steps must be at least 1")
    start = time.perf_counter()
    data, run, report = out / "data", out / "run", out
    if not (data / "synth.mat").exists():
        print(f"[1/3] writing the synthetic scene to {data}", flush=True)
        write_synthetic(data, SynthConfig())
    else:
        print(f"[1/3] using the synthetic scene in {data}", flush=True)
    resume = (run / "checkpoint.pt").exists()
    print(f"[2/3] training on its normal videos ({'resuming ' if resume else ''}run folder {run})", flush=True)
    checkpoint = train(data, run, demo_config(steps), resume=resume)
    print("[3/3] scoring every test frame and writing the report", flush=True)
    metrics = evaluate_checkpoint(checkpoint, data, report, "video")
    train_metrics = evaluate_checkpoint(checkpoint, data, report / "train_normalized", "train", progress=False)
    summary = {"micro_auc": metrics["micro_auc"], "macro_auc": metrics["macro_auc"], "eer": metrics["eer"],
               "micro_auc_train_normalized": train_metrics["micro_auc"], "n_frames": metrics["n_frames"],
               "minutes": round((time.perf_counter() - start) / 60, 2)}
    print(json.dumps(summary))
    print(f"micro AUC {metrics['micro_auc']:.4f} (per-video normalisation), "
          f"{train_metrics['micro_auc']:.4f} (training statistics); report in {report}")
    return summary

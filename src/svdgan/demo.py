"""`svdgan demo`: synthesise a scene, train on its normal videos, evaluate, write the report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from svdgan.config import Config, ModelConfig, TrainConfig
from svdgan.data.datasets import discover
from svdgan.data.groundtruth import frame_labels
from svdgan.data.synth import ANOMALY_KINDS, ONE_ATTRIBUTE, SynthConfig, write_synthetic
from svdgan.errors import UserError
from svdgan.evaluation.metrics import auc
from svdgan.evaluation.report import evaluate_checkpoint
from svdgan.evaluation.scorefiles import read_scores
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
    kinds = kind_aucs(data, report / "train_normalized" / "scores.csv")
    summary = {"micro_auc": metrics["micro_auc"], "macro_auc": metrics["macro_auc"], "eer": metrics["eer"],
               "micro_auc_train_normalized": train_metrics["micro_auc"], "by_kind_train_normalized": kinds,
               "n_frames": metrics["n_frames"], "minutes": round((time.perf_counter() - start) / 60, 2)}
    print(json.dumps(summary))
    print(f"micro AUC {metrics['micro_auc']:.4f} (per-video normalisation), "
          f"{train_metrics['micro_auc']:.4f} (training statistics); report in {report}")
    print("by kind of anomaly (training statistics): " + ", ".join(
        f"{kind}{' (only ' + ONE_ATTRIBUTE[kind] + ' sees it)' if kind in ONE_ATTRIBUTE else ''} {value:.4f}"
        for kind, value in kinds.items() if value is not None))
    return summary


def kind_aucs(data: Path, scores_csv: Path) -> dict[str, float | None]:
    """Each kind of anomaly's AUC: its anomalous frames against every normal test frame (test video
    v holds kind v mod the number of kinds, as write_synthetic makes them)."""
    dataset = discover(data)
    videos = read_scores(scores_csv, "anomaly")
    labels = [frame_labels(t, len(s), v) for (v, s), t in zip(videos, dataset.ground_truth, strict=True)]
    normal = np.concatenate([s[~lab] for (_, s), lab in zip(videos, labels)])
    result: dict[str, float | None] = {}
    for k, kind in enumerate(ANOMALY_KINDS):
        odd = [s[lab] for i, ((_, s), lab) in enumerate(zip(videos, labels)) if i % len(ANOMALY_KINDS) == k]
        if odd:
            scores = np.concatenate([normal, *odd])
            result[kind] = auc(scores, np.r_[np.zeros(len(normal)), np.ones(len(scores) - len(normal))])
    return result

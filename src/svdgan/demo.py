"""`svdgan demo`: synthesise a scene, fit the shipped recipe (and the recipe with objects) on its
normal videos, score every test frame, and say per kind of anomaly how well each finds it and
what its alerts say; `--svdgan` trains the demo's SVD-GAN beside them, `--objects-generator` the
SVD-GAN on objects (configs/objects_generator.yaml)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from svdgan.config import Config, MemoryConfig, ModelConfig, ScoreConfig, TrainConfig
from svdgan.data.datasets import discover
from svdgan.data.groundtruth import frame_labels
from svdgan.data.synth import SynthConfig, write_synthetic
from svdgan.errors import UserError
from svdgan.evaluation.metrics import auc
from svdgan.evaluation.report import evaluate_checkpoint
from svdgan.evaluation.scorefiles import read_scores
from svdgan.live.events import EventTracker
from svdgan.scoring.detector import Detector
from svdgan.scoring.fit import train
from svdgan.sources.scene import ANOMALY_KINDS, ONE_ATTRIBUTE


def demo_config(steps: int | None = None) -> Config:
    """The demo's SVD-GAN (`--svdgan`): the paper's architecture, narrower and at 64 px, so that
    training fits in a few minutes on two CPU cores."""
    config = Config(
        model=ModelConfig(size=64, channels=3, conv1_channels=32, conv2_channels=32, lstm_channels=(32, 32, 32, 64),
                          decoder_channels=32),
        train=TrainConfig(steps=steps or 600, batch_size=4, checkpoint_every=250, preview_every=250,
                          log_every=10, stats_frames=320),
        score=ScoreConfig(generator=True, smooth=1), memory=MemoryConfig(enabled=False),
    )
    return config.validate()


def recipe_config(objects: tuple[str, ...] = (), look: bool = False) -> Config:
    """The shipped recipe (the defaults: the memory of normal motion alone), with the memory of normal
    objects' `objects` groups beside it if given (configs/objects.yaml: size), and with `look` the
    look of the cells that move (configs/look.yaml)."""
    config = Config()
    config.memory.objects, config.memory.look = objects, look
    return config.validate()


DEMO_OBJECTS = ("size",)  # the objects option's groups, as configs/objects.yaml


def run_demo(out: Path, steps: int | None = None, svdgan: bool = False, objects_generator: bool = False) -> dict:
    """The scene, then each model on it: the shipped recipe, the recipe with the look of the cells
    that move, the recipe with objects, with `svdgan`
    the demo's SVD-GAN trained `steps` steps, and with `objects_generator` the recipe with the
    SVD-GAN on objects (its own 1000 steps)."""
    if steps is not None and steps < 1:
        raise UserError("--steps must be at least 1")
    if steps is not None and not svdgan:
        raise UserError("--steps is the SVD-GAN's training budget: it needs --svdgan")
    start = time.perf_counter()
    models = [("recipe", "the shipped recipe (memory of normal motion alone)", recipe_config()),
              ("look", "the recipe with the look of the cells that move (configs/look.yaml)", recipe_config(look=True)),
              ("objects", "the recipe with objects' size (configs/objects.yaml)", recipe_config(DEMO_OBJECTS))]
    if svdgan:
        models.append(("svdgan", "the demo's 64 px SVD-GAN", demo_config(steps)))
    if objects_generator:
        models.append(("objects_generator", "the recipe with the SVD-GAN on objects (configs/objects_generator.yaml)",
                       recipe_config(("error",))))
    data = out / "data"
    if not (data / "synth.mat").exists():
        print(f"[1/{len(models) + 1}] writing the synthetic scene to {data}", flush=True)
        write_synthetic(data, SynthConfig())
    else:
        print(f"[1/{len(models) + 1}] using the synthetic scene in {data}", flush=True)
    summary: dict = {"models": {}}
    for step, (name, label, config) in enumerate(models, 2):
        run = out / name
        resume = (run / "checkpoint.pt").exists() and config.score.generator
        print(f"[{step}/{len(models) + 1}] {label}: {'trained' if config.score.generator else 'fitted'} on the "
              "normal videos "
              f"({'resuming ' if resume else ''}run folder {run}), then every test frame scored", flush=True)
        if (run / "checkpoint.pt").exists() and not config.score.generator:
            checkpoint = run / "checkpoint.pt"  # nothing to resume: fitted already
        else:
            checkpoint = train(data, run, config, resume=resume)
        summary["models"][name] = model_summary(checkpoint, data, out / "report" / name, label)
    summary["minutes"] = round((time.perf_counter() - start) / 60, 2)
    print(json.dumps(summary))
    for name, m in summary["models"].items():
        print(f"{m['label']}: micro AUC {m['micro_auc_train_normalized']:.4f} (training statistics), "
              f"{m['micro_auc']:.4f} (per-video normalisation); report in {out / 'report' / name}")
        for kind, value in m["by_kind_train_normalized"].items():
            if value is None:
                continue
            sees = f" (only {ONE_ATTRIBUTE[kind]} sees it)" if kind in ONE_ATTRIBUTE else ""
            said = m["reasons"].get(kind) or {}
            named = max(said, key=said.get) if said else "no alert"
            print(f"  {kind}{sees}: AUC {value:.4f}; its alerts say: {named}")
    return summary


def model_summary(checkpoint: Path, data: Path, report: Path, label: str) -> dict:
    metrics = evaluate_checkpoint(checkpoint, data, report, "video")
    train_metrics = evaluate_checkpoint(checkpoint, data, report / "train_normalized", "train", progress=False)
    return {"label": label, "micro_auc": metrics["micro_auc"], "macro_auc": metrics["macro_auc"],
            "eer": metrics["eer"], "micro_auc_train_normalized": train_metrics["micro_auc"],
            "by_kind_train_normalized": kind_aucs(data, report / "train_normalized" / "scores.csv"),
            "reasons": kind_reasons(checkpoint, data), "n_frames": metrics["n_frames"]}


def kind_reasons(checkpoint: Path, data: Path) -> dict[str, dict[str, int]]:
    """Each kind of anomaly's frames inside an event, counted by the reason they give, as `svdgan
    detect` raises events (its defaults) on the test videos."""
    detector = Detector.load(checkpoint)
    dataset = discover(data)
    reasons: dict[str, Counter] = {}
    for i, (video, truth) in enumerate(zip(dataset.test, dataset.ground_truth, strict=True)):
        frames = list(video.frames())
        labels = frame_labels(truth, len(frames), video.name)
        said = reasons.setdefault(ANOMALY_KINDS[i % len(ANOMALY_KINDS)], Counter())
        tracker = EventTracker(video.name)
        for t, scored in enumerate(detector.score_video(frames, video.name, fps=10)):
            tracker.update(scored)
            if scored.anomalous and labels[t] and scored.why is not None:
                said[scored.why.reason] += 1
    return {kind: dict(c.most_common()) for kind, c in reasons.items()}


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

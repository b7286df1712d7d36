"""Adversarial training of the SVD-GAN's generator and discriminator on normal clips, resumable, on one
process or several (torchrun). The model file's memory and statistics are fitted after it (scoring/fit.py)."""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm import tqdm

from svdgan.config import Config, apply_overrides, config_from_dict
from svdgan.data.cache import cached_video
from svdgan.data.clips import ClipSampler
from svdgan.data.frames import VideoRef, load_video
from svdgan.errors import UserError
from svdgan.model.checkpoint import load_checkpoint, save_checkpoint
from svdgan.training.distributed import Dist, setup, teardown
from svdgan.training.step import Models, split_clips, train_step
from svdgan.utils.hardware import training_machine
from svdgan.utils.precision import resolve_precision

LOG_COLUMNS = ["step", "seconds", "discriminator", "generator", "adversarial", "contextual",
               "encoder", "svd"]


def _save_preview(path: Path, clips: torch.Tensor, recon: torch.Tensor) -> None:
    """Target frames (top row) above the generator's output (bottom row) for the first clip."""
    import cv2

    def row(x: torch.Tensor) -> np.ndarray:
        frames = ((x[0].detach().float().clamp(-1, 1) + 1) * 127.5).byte().numpy()  # (T, C, S, S)
        frames = frames.transpose(0, 2, 3, 1)
        if frames.shape[-1] == 1:
            frames = np.repeat(frames, 3, axis=-1)
        return np.concatenate(list(frames), axis=1)

    image = np.concatenate([row(clips), row(recon)], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def _load_videos(videos: list, config: Config, progress: bool) -> list[np.ndarray]:
    loaded = []
    cache = Path(config.train.cache_dir) if config.train.cache_dir else None
    for video in tqdm(videos, desc="loading training videos", unit="video", leave=False, disable=not progress):
        if cache is not None:
            loaded.append(cached_video(video, config.model.size, config.model.channels, cache))
        else:
            loaded.append(load_video(video, config.model.size, config.model.channels))
    return loaded


class _StepBatches(torch.utils.data.Dataset):
    """Item i is this process's share of the batch of step first + i (workers can prepare it ahead)."""

    def __init__(self, sampler: ClipSampler, first: int, total: int, per_rank: int, dist: Dist):
        self.sampler, self.first, self.total, self.per_rank, self.dist = sampler, first, total, per_rank, dist

    def __len__(self) -> int:
        return self.total - self.first

    def __getitem__(self, i: int) -> torch.Tensor:
        rank, n = self.dist.rank, self.per_rank
        return self.sampler.batch(self.first + i, n * self.dist.world)[rank * n:(rank + 1) * n]


def train_generator(videos: list[VideoRef], out_dir: str | Path, config: Config | None, resume: bool = False,
                    overrides: list[str] | None = None, progress: bool = True) -> Path:
    """Train the generator on normal videos into out_dir/checkpoint.pt (resuming the run there);
    returns its path. Under torchrun every process runs this; each trains on its share of every
    batch (train.batch_size clips each) and rank 0 alone writes the run folder."""
    dist = setup()
    try:
        return _train(videos, Path(out_dir), config, resume, overrides, progress, dist)
    finally:
        teardown(dist)


@dataclass
class _Run:
    """A training run in progress: its folder, models, and how far it has come over its sessions."""

    out_dir: Path
    config: Config
    models: Models
    dist: Dist
    precision: str
    step: int = 0
    seconds_before: float = 0.0  # training time of earlier (resumed) sessions
    sessions_before: list = field(default_factory=list)
    first_step: int = 0  # this session's
    machine: dict = field(default_factory=dict)
    start: float = field(default_factory=time.perf_counter)

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.pt"

    def save(self, stats: dict | None = None, motion: dict | None = None) -> None:
        """The checkpoint (rank 0 only), with which machine trained which steps, so a training time
        can say what kind of processor it is from."""
        if not self.dist.main:
            return
        session = time.perf_counter() - self.start
        sessions = self.sessions_before + [{"steps": [self.first_step, self.step], "seconds": round(session, 1),
                                            "precision": self.precision, "machine": self.machine}]
        extra = {"motion": motion} if motion else {}
        save_checkpoint(self.checkpoint_path, {
            "config": self.config.to_dict(), "step": self.step, "score_stats": stats, "precision": self.precision,
            "train_seconds": self.seconds_before + session, "train_sessions": sessions, **extra,
            **self.models.state()})


def _train(refs: list[VideoRef], out_dir: Path, config: Config | None, resume: bool, overrides: list[str] | None,
           progress: bool, dist: Dist) -> Path:
    config, payload = _run_config(out_dir, config, resume, overrides)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    progress = progress and dist.main
    videos = _load_videos(refs, config, progress)
    try:
        sampler = ClipSampler(videos, config.model.clip_len + config.target_offset, config.train.strides,
                              config.train.seed)
    except ValueError as exc:
        raise UserError(f"the training videos: {exc}") from None
    run = _start_run(out_dir, config, payload, dist, progress)
    _train_steps(run, sampler, progress)
    if dist.main:
        _finish(run, payload)
    dist.barrier()
    return run.checkpoint_path


def _run_config(out_dir: Path, config: Config | None, resume: bool,
                overrides: list[str] | None) -> tuple[Config, dict[str, Any] | None]:
    """The run's config and, resuming, its checkpoint's payload."""
    ckpt_path = out_dir / "checkpoint.pt"
    if not resume:
        if ckpt_path.exists():
            raise UserError(f"{out_dir} already holds a run: pass --resume to continue it, or another --out")
        assert config is not None
        return config, None
    payload = load_checkpoint(ckpt_path)
    if "generator" not in payload:
        raise UserError(f"{out_dir} holds a model that scores with its memory alone: there is nothing to resume")
    if "discriminator" not in payload:
        raise UserError(f"{ckpt_path} holds a scoring-only model (no discriminator or optimiser state): "
                        "it cannot be resumed")
    config = config_from_dict(payload["config"])
    apply_overrides(config, overrides or [])  # e.g. train.steps=... to train further
    return config, payload


def _start_run(out_dir: Path, config: Config, payload: dict[str, Any] | None, dist: Dist, progress: bool) -> _Run:
    """Models (resumed from `payload` if given) and the run folder, laid out by rank 0."""
    precision = resolve_precision(config.train.precision, dist.device, announce=progress)  # says which, and why
    torch.manual_seed(config.train.seed)  # the same initial weights in every process
    run = _Run(out_dir, config, Models(config, dist.device, dist.world), dist, precision,
               machine=training_machine(dist.device, dist.world))
    if payload is not None:
        run.models.load(payload)
        run.step = run.first_step = int(payload["step"])
        run.seconds_before = float(payload.get("train_seconds", 0.0))
        run.sessions_before = payload.get("train_sessions") or (  # a checkpoint from before sessions were kept
            [{"steps": [0, run.step], "seconds": run.seconds_before, "machine": None}] if run.step else [])
    if dist.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in out_dir.glob(".checkpoint.pt.*.tmp"):  # left by a kill during a checkpoint write
            stale.unlink()
        (out_dir / "config.yaml").write_text(yaml.safe_dump(_plain(config.to_dict()), sort_keys=False))
        _truncate_log(out_dir / "losses.csv", run.step)
    run.start = time.perf_counter()
    return run


def _train_steps(run: _Run, sampler: ClipSampler, progress: bool) -> None:
    """Train from run.step to train.steps: log, preview and checkpoint as the config says."""
    config, dist, t = run.config, run.dist, run.config.train
    log_path = run.out_dir / "losses.csv"
    bar = tqdm(total=t.steps, initial=run.step, desc="training", unit="step", disable=not progress)
    with open(log_path if dist.main else os.devnull, "a", newline="") as log_file:
        log = csv.writer(log_file)
        if dist.main and log_path.stat().st_size == 0:
            log.writerow(LOG_COLUMNS)
        # the step's global batch depends only on (seed, step); each process takes its share
        batches = torch.utils.data.DataLoader(_StepBatches(sampler, run.step, t.steps, t.batch_size, dist),
                                              batch_size=None, num_workers=t.workers)
        for clips in batches:
            values = train_step(run.models, clips.to(dist.device, non_blocking=True), config, dist)
            run.step += 1
            bar.update(1)
            if run.step % t.log_every == 0 or run.step == t.steps:
                bar.set_postfix({k[:4]: f"{v:.4f}" for k, v in values.items()})
                log.writerow([run.step, f"{run.seconds_before + time.perf_counter() - run.start:.2f}"]
                             + [f"{values[c]:.6g}" for c in LOG_COLUMNS[2:]])
                log_file.flush()
            if dist.main and (run.step % t.preview_every == 0 or run.step == t.steps):
                _preview(run, clips)
            if run.step % t.checkpoint_every == 0 and run.step < t.steps:
                run.save()
    bar.close()


def _preview(run: _Run, clips: torch.Tensor) -> None:
    inputs, targets = split_clips(clips[:1], run.config)
    with torch.inference_mode():
        recon, _ = run.models.generator.eval().reconstruct(inputs.to(run.dist.device))
    _save_preview(run.out_dir / "previews" / f"step_{run.step:06d}.png", targets, recon.cpu())


def _finish(run: _Run, payload: dict[str, Any] | None) -> None:
    """The last checkpoint; a finished run resumed with nothing left to train keeps its fitted
    statistics and memory, any other is fitted afresh after training (scoring/fit.py)."""
    finished = payload is not None and int(payload["step"]) == run.config.train.steps
    run.save(payload.get("score_stats") if finished else None, payload.get("motion") if finished else None)


def _plain(value: Any) -> Any:
    """Tuples to lists, so the YAML dump is plain YAML."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _truncate_log(path: Path, step: int) -> None:
    """On resume, drop log rows written after the checkpoint (they will be trained again)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step] if rows else []
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(kept)

"""`svdgan calibrate`: a scoring-only model file with normal-score statistics from normal footage.

Training ends with statistics of its own training frames. Calibrating again is how a model
is pointed at a new camera (statistics of that camera's normal footage), how another score
option (`score.patch`, `score.smooth`) gets statistics that match it, and how weights are
released: the output keeps the generator, config and statistics, and drops the
discriminator and optimiser state. A model with a memory of normal motion (`memory.enabled`)
gets that memory refitted on the given footage: motion is remembered per position, per camera.
With `score.generator=false` the memory alone scores, and the generator is not run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from svdgan.config import Config, apply_overrides
from svdgan.data.datasets import discover
from svdgan.data.frames import VideoRef, load_video
from svdgan.errors import UserError
from svdgan.memory.bank import MotionMemory
from svdgan.memory.fitting import GeneratorFit, keep_generator, normal_greys
from svdgan.model.checkpoint import load_generator, require_generator, save_checkpoint
from svdgan.scoring.fusion import calibrate_scores, fuse_normal_scores


def score_overrides(overrides: list[str], sections: tuple[str, ...] = ("score",)) -> list[str]:
    """Only `score.*` keys may change after training (and `memory.*` when calibrating, which
    fits the memory): the rest describe the trained weights."""
    for item in overrides:
        if item.strip().partition(".")[0] not in sections:
            names = " and ".join(f"{s}.*" for s in sections)
            raise UserError(f"only {names} settings can change here (the rest describe the trained weights), "
                            f"got {item!r}")
    return overrides


def calibrate(checkpoint: str | Path, data: str | Path, out: str | Path, overrides: list[str] | None = None,
              frames: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Write `out` (scoring-only checkpoint); returns the new statistics."""
    generator, config, payload = load_generator(checkpoint)
    apply_overrides(config, score_overrides(overrides or [], ("score", "memory")))
    require_generator(payload, config, checkpoint)
    if frames is not None:
        apply_overrides(config, [f"train.stats_frames={frames}"])
    dataset = discover(data)
    if not dataset.train:
        raise UserError(f"no normal (training) videos under {data}")
    videos = [load_video(v, config.model.size, config.model.channels)  # for the generator, if it scores
              for v in tqdm(dataset.train, desc="loading normal videos", unit="video",
                            disable=not progress)] if config.score.generator else []
    greys = normal_greys(dataset.train, config)  # the memory of normal motion is refitted: it is per camera
    trained = keep_generator(MotionMemory.from_payload(payload.get("motion"), config.memory))
    stats, memory = calibrate_scores(generator, videos, greys, config, trained)
    out = Path(out)
    if out.resolve() == Path(checkpoint).resolve():
        raise UserError("--out must differ from --checkpoint (the training checkpoint stays resumable)")
    out.parent.mkdir(parents=True, exist_ok=True)
    how_trained = ("train_seconds", "train_sessions", "precision")
    trained = {k: payload[k] for k in how_trained if k in payload}
    weights = {"generator": payload["generator"]} if "generator" in payload else {}
    save_checkpoint(out, {"config": config.to_dict(), "step": payload.get("step"), "score_stats": stats, **trained,
                          **weights, "calibrated_on": str(data),
                          **({"motion": memory.to_payload()} if memory is not None else {})})
    return stats


def fit_memory_model(train_videos: list[VideoRef], out: Path, config: Config, machine: dict[str, Any],
                     progress: bool = True, fit_generator: GeneratorFit | None = None) -> Path:
    """`svdgan train` of a recipe that scores with its memory alone (score.generator false): no
    generator is trained; the normal motion is remembered and its statistics kept, in a model
    file like any other (without generator weights)."""
    start = time.perf_counter()
    stats, memory = fuse_normal_scores(None, normal_greys(train_videos, config, progress), config, fit_generator)
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    path = out / "checkpoint.pt"
    save_checkpoint(path, {"config": config.to_dict(), "step": 0, "score_stats": stats, "motion": memory.to_payload(),
                           "train_seconds": seconds, "precision": "fp32",
                           "train_sessions": [{"steps": [0, 0], "seconds": round(seconds, 1), "precision": "fp32",
                                               "machine": machine}]})
    return path

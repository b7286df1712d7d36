"""A model file fitted on a camera's normal footage: `svdgan train` and `svdgan calibrate`.

train      the recipe's memory of normal motion fitted on the normal videos, and the statistics of
           their scores (each normal video scored against a memory fitted without it), so that 1.0 is
           the worst normal frame; a recipe with a generator (configs/paper.yaml) trains it first
           (training/loop.py, resumable), and one with the generator on objects trains that first.
calibrate  an existing model's memory and statistics refitted on other normal footage (a new
           camera, other score options), its trained generators kept; and the same on frames in
           memory (a synthetic camera's own normal clips).
teach      clips an operator says are normal added to a model's memory (or the last teaching undone),
           written as a new model file: what `svdgan teach` and `Model.learn` do.
learn      a source's own normal learnt from its first frames, before it is scored (`detect --learn`).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from svdgan.config import Config, apply_overrides, config_from_dict
from svdgan.data.datasets import discover
from svdgan.data.frames import VideoRef, load_video, resize
from svdgan.errors import UserError
from svdgan.memory.bank import MotionMemory
from svdgan.memory.fitting import GeneratorFit, keep_generator, normal_greys
from svdgan.memory.flow import to_grey
from svdgan.model.checkpoint import generator_from, load_checkpoint, save_checkpoint
from svdgan.model.generator import Generator
from svdgan.scoring.detector import Detector
from svdgan.scoring.fusion import calibrate_scores
from svdgan.sources.video import open_file
from svdgan.training.distributed import is_main_process
from svdgan.training.loop import train_generator
from svdgan.training.objects import OBJECTS_CHECKPOINT, object_generator_fit
from svdgan.utils.hardware import training_machine

Fitted = tuple[dict[str, Any], MotionMemory | None]  # normal-score statistics, and the memory they describe


def train(data: str | Path, out: str | Path, config: Config | None = None, resume: bool = False,
          overrides: list[str] | None = None, progress: bool = True, scene: str | None = None) -> Path:
    """Fit `config` (default: the detector that ships) on the normal videos of `data` (of one scene,
    if given) into out/checkpoint.pt; returns its path. Under torchrun every process trains the
    generator and the first alone fits the rest."""
    out = Path(out)
    dataset = discover(data, scene=scene)
    if not dataset.train:
        raise UserError(f"no training videos under {data}")
    if resume or (config is not None and config.score.generator):
        path = train_generator(dataset.train, out, config, resume, overrides, progress)
        if is_main_process():
            _fit_trained(path, dataset.train, progress)
        return path
    config = apply_overrides(copy.deepcopy(config) if config is not None else Config(), overrides or [])
    if config.score.generator:
        return train(data, out, config, progress=progress, scene=scene)
    path = out / "checkpoint.pt"
    if not is_main_process():
        return path
    if path.exists():
        raise UserError(f"{out} already holds a model: pass another --out (a memory has nothing to resume)")
    start = time.perf_counter()
    stats, memory = calibrate_scores(None, [], normal_greys(dataset.train, config, progress), config,
                                     object_generator_fit(config, out / OBJECTS_CHECKPOINT, progress))
    seconds = time.perf_counter() - start
    machine = training_machine("cpu", 1)
    save_checkpoint(path, {"config": config.to_dict(), "step": 0, "score_stats": stats, "motion": memory.to_payload(),
                           "train_seconds": seconds, "precision": "fp32",
                           "train_sessions": [{"steps": [0, 0], "seconds": round(seconds, 1), "precision": "fp32",
                                               "machine": machine}]})
    return path


def _fit_trained(path: Path, videos: list[VideoRef], progress: bool) -> None:
    """A trained generator's checkpoint completed with the statistics (and memory) of its normal videos,
    scored on the CPU as evaluate and detect will score them; kept where training left them."""
    payload = load_checkpoint(path)
    if payload.get("score_stats"):
        return
    config = config_from_dict(payload["config"])
    generator = generator_from(payload, config, path)
    frames = [load_video(v, config.model.size, config.model.channels)
              for v in tqdm(videos, desc="normal statistics", unit="video", leave=False, disable=not progress)]
    stats, memory = calibrate_scores(generator, frames, normal_greys(videos, config, progress), config,
                                     object_generator_fit(config, path.parent / OBJECTS_CHECKPOINT, progress))
    save_checkpoint(path, {**payload, "score_stats": stats,
                           **({"motion": memory.to_payload()} if memory is not None else {})})


def calibrate(checkpoint: str | Path, data: str | Path, out: str | Path, overrides: list[str] | None = None,
              frames: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Write `out`, a scoring model for the normal footage `data`: the checkpoint's generators kept,
    its memory refitted, its statistics computed anew; returns them. Only score.* and memory.*
    settings may change (the rest describe the trained weights)."""
    payload = load_checkpoint(checkpoint)
    config = config_from_dict(payload["config"])
    for item in overrides or []:
        if item.strip().partition(".")[0] not in ("score", "memory"):
            raise UserError(f"only score.* and memory.* settings can change here (the rest describe the trained "
                            f"weights), got {item!r}")
    apply_overrides(config, list(overrides or []) + ([f"train.stats_frames={frames}"] if frames is not None else []))
    generator = generator_from(payload, config, checkpoint) if config.score.generator else None
    out = Path(out)
    if out.resolve() == Path(checkpoint).resolve():
        raise UserError("--out must differ from --checkpoint (the training checkpoint stays resumable)")
    dataset = discover(data)
    if not dataset.train:
        raise UserError(f"no normal (training) videos under {data}")
    videos = [load_video(v, config.model.size, config.model.channels)  # for the generator, if it scores
              for v in tqdm(dataset.train, desc="loading normal videos", unit="video",
                            disable=not progress)] if generator is not None else []
    trained = keep_generator(MotionMemory.from_payload(payload.get("motion"), config.memory))
    stats, memory = calibrate_scores(generator, videos, normal_greys(dataset.train, config, progress), config, trained)
    how_trained = {k: payload[k] for k in ("train_seconds", "train_sessions", "precision") if k in payload}
    weights = {"generator": payload["generator"]} if "generator" in payload else {}
    save_checkpoint(out, {"config": config.to_dict(), "step": payload.get("step"), "score_stats": stats,
                          **how_trained, **weights, "calibrated_on": str(data),
                          **({"motion": memory.to_payload()} if memory is not None else {})})
    return stats


def fit_frames(config: Config, clips: list[list[np.ndarray]], generator: Generator | None = None,
               objects: GeneratorFit | None = None) -> Fitted:
    """A recipe's statistics and memory fitted on normal clips of RGB frames in memory (a camera's own
    footage); a generator (`score.generator`) and a generator on objects (its `error` group) are
    given trained."""
    videos = [np.stack([resize(f, config.model.size, config.model.channels) for f in frames]) for frames in clips]
    greys = [np.stack([to_grey(f, config.memory.height) for f in frames]) for frames in clips]
    return calibrate_scores(generator, videos, greys if config.memory.enabled else None, config, objects)


def refit(detector: Detector, clips: list[list[np.ndarray]]) -> Fitted:
    """A detector's statistics and memory refitted on a camera's normal clips, its generators kept:
    what the camera is then scored with (`Detector.open(..., stats=, memory=)`)."""
    generator = None
    if detector.config.score.generator:  # the one the detector scores with, or (another backend) the file's
        generator = getattr(detector.scorer, "generator", None) or generator_from(detector.payload, detector.config,
                                                                                 detector.path)
    return fit_frames(detector.config, clips, generator, keep_generator(detector.memory))


def teach(checkpoint: str | Path | None, clips: list[str | Path], out: str | Path, undo: bool = False
          ) -> dict[str, int]:
    """A model file whose memory also holds each clip (a video file or frame folder of normal footage
    of its camera), or with `undo` its last teaching taken back first; written to `out` atomically.
    Returns the memory's size (its taught frames and teachings among it)."""
    if not clips and not undo:
        raise UserError("nothing to teach: give --normal CLIP (a video file or frame folder) or --undo")
    detector = Detector.load(checkpoint)
    if undo:
        detector.undo()
    for clip in clips:
        images = [frame.image for frame in open_file(Path(clip)).frames()]
        detector.teach(images)
    detector.save(out)
    assert detector.memory is not None  # teach and undo refuse a model without one
    return detector.memory.size()


def learn_frames(spec: str | int, fps: float | None) -> int:
    """How many frames `--learn SPEC` means: "300" frames, or a duration ("90s", "2m") at the source's
    frame rate."""
    text = str(spec).strip().lower()
    units = {"s": 1.0, "m": 60.0}
    try:
        if text[-1:] in units:
            seconds = float(text[:-1]) * units[text[-1]]
            if not fps:
                raise UserError(f"--learn {spec}: this source has no frame rate (a frame folder): give a number "
                                "of frames instead, e.g. --learn 300")
            frames = round(seconds * fps)
        else:
            frames = int(text)
    except ValueError:
        raise UserError(f"--learn {spec}: give frames (300) or a duration (90s, 2m)") from None
    if frames < 8:
        raise UserError(f"--learn {spec}: learning needs at least 8 frames of normal footage")
    return frames


def learn_source(detector: Detector, stream: int, images: list[np.ndarray]) -> None:
    """A source's first frames, normal footage of its own camera, fitted as its memory and statistics
    (the model's generators kept); the source is scored with them from its next frame."""
    stats, memory = refit(detector, [images])
    detector.replace(stream, stats, memory)

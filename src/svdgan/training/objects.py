"""Training the generator on objects (objects/appearance.py) on normal objects' clips, with the
paper's four losses, resumable from a checkpoint beside the model file."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from svdgan.config import Config, config_from_dict
from svdgan.errors import UserError
from svdgan.memory.fitting import GeneratorFit
from svdgan.model.checkpoint import load_checkpoint, save_checkpoint
from svdgan.model.generator import Generator
from svdgan.objects.appearance import ObjectGenerator, as_input, object_generator_config
from svdgan.training.step import Models, train_step

SAVE_EVERY = 100  # steps between checkpoints
OBJECTS_CHECKPOINT = "objects_generator.pt"  # beside the model file, while the generator on objects trains


def train_object_generator(clips: np.ndarray, config: Config, checkpoint: Path | None = None,
                           progress: bool = False) -> tuple[Generator, float]:
    """(N, T, S, S) uint8 normal clips -> the trained generator and its training seconds, on random
    batches of them for config.train.steps steps; resumes from `checkpoint` where it exists."""
    if len(clips) < config.train.batch_size:
        raise UserError(f"too few moving objects in the normal footage to train the generator on objects "
                        f"({len(clips)} clips, a batch is {config.train.batch_size})")
    torch.manual_seed(config.train.seed)
    models, done, seconds = Models(config), 0, 0.0
    if checkpoint is not None and checkpoint.exists():
        payload = load_checkpoint(checkpoint)
        # as this version reads it: settings added since it was written take their defaults
        if config_from_dict(payload.get("config") or {}).to_dict() != config.to_dict():
            raise UserError(f"{checkpoint} holds a generator on objects of another config: remove it to start over")
        models.load(payload["models"])
        done, seconds = int(payload["step"]), float(payload["seconds"])
    rng = np.random.default_rng([config.train.seed, done])
    steps = config.train.steps
    for step in tqdm(range(done, steps), initial=done, total=steps, desc="generator on objects", unit="step",
                     leave=False, disable=not progress):
        start = time.perf_counter()
        train_step(models, as_input(clips[rng.integers(len(clips), size=config.train.batch_size)]), config)
        seconds += time.perf_counter() - start
        if checkpoint is not None and ((step + 1) % SAVE_EVERY == 0 or step + 1 == steps):
            save_checkpoint(checkpoint, {"config": config.to_dict(), "models": models.state(), "step": step + 1,
                                         "seconds": seconds})
    return models.generator.eval(), seconds


def object_generator_fit(config: Config, checkpoint: Path | None, progress: bool) -> GeneratorFit:
    """How `svdgan train` fits the generator on objects of a recipe whose objects have the `error`
    group: the config's memory settings and seed, checkpointed at `checkpoint` (rerunning the same
    command resumes it)."""
    objects = object_generator_config(config.memory)
    objects.train.seed = config.train.seed

    def fit(clips: np.ndarray) -> ObjectGenerator:
        return ObjectGenerator(train_object_generator(clips, objects, checkpoint, progress)[0], objects)
    return fit

"""Fitting the memory of normal motion on a camera's normal footage, and the normal scores of
that footage, each part scored against a memory fitted without it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from tqdm import tqdm

from svdgan.config import Config, MemoryConfig
from svdgan.data.frames import VideoRef
from svdgan.errors import UserError
from svdgan.memory.bank import MotionMemory, video_motion
from svdgan.memory.flow import grey_video
from svdgan.memory.folds import folds
from svdgan.memory.objects import ObjectPart, fit_object_memory, frame_scores
from svdgan.objects.appearance import ObjectGenerator, normal_clips
from svdgan.objects.attributes import SeenObject
from svdgan.objects.background import Background
from svdgan.objects.finder import ObjectFinder
from svdgan.scoring.normalise import causal_smooth


def fit_bank(cells: list[torch.Tensor], config: MemoryConfig) -> torch.Tensor:
    """Normal cells (N, D, gh, gw) -> the bank: every `every`-th frame, at most max_frames, evenly spread."""
    bank = torch.cat([c[::config.every] for c in cells])
    if len(bank) > config.max_frames:
        bank = bank[torch.linspace(0, len(bank) - 1, config.max_frames).long()]
    return bank


GeneratorFit = Callable[[np.ndarray], ObjectGenerator]  # normal objects' clips (N, T, S, S) uint8 -> trained
FILL_CLIPS = 2000  # normal clips whose median error stands in for an object's before its clip is full


def fit_memory(greys: list[np.ndarray], config: MemoryConfig, smooth: int, fit_generator: GeneratorFit | None = None
               ) -> tuple[MotionMemory, list[np.ndarray]]:
    """A memory of the normal grey videos (N, h, w), and every normal frame's smoothed score from a
    memory without its fold (so the scores are what unseen normal footage gets). With
    `config.objects`, the memory of normal objects is fitted beside the cells' from the same flow;
    with its `error` group, `fit_generator` trains the generator on objects first."""
    if len({g.shape[1:] for g in greys}) != 1:
        raise UserError("normal videos of different frame sizes: calibrate the motion memory per camera")
    if sum(len(g) for g in greys) < 8:
        raise UserError("the motion memory needs at least 8 normal frames")
    frame_size = greys[0].shape[1:]
    background = Background.fit(greys) if config.objects else None
    cells, objects = [], []
    for g in greys:
        c, seen = video_motion(g, config.cell, background and ObjectFinder(background))
        cells.append(c)
        objects.append(seen)
    raw = [np.empty(len(c)) for c in cells]
    for i, part in folds([len(c) for c in cells]):
        rest = [c for j, c in enumerate(cells) if j != i] or [  # one video: the rest of it
            torch.cat([cells[i][:part.start], cells[i][part.stop:]])]
        raw[i][part] = MotionMemory(fit_bank(rest, config), config, frame_size).distances(cells[i][part])
    scores = [causal_smooth(r, smooth) for r in raw]
    memory = MotionMemory(fit_bank(cells, config), config, frame_size)
    if background is None:
        return memory, scores
    generator = _object_generator(greys, objects, fit_generator) if "error" in config.objects else None
    object_memory, held_out = fit_object_memory(objects)
    memory.objects = ObjectPart(background, object_memory, config.objects, generator)
    object_scores = [causal_smooth(frame_scores(object_memory, v, config.objects), smooth) for v in held_out]
    memory.stats = {"cells": normal_stats(np.concatenate(scores)),
                    "objects": normal_stats(np.concatenate(object_scores))}
    return memory, [memory.combine(c, o) for c, o in zip(scores, object_scores)]


def _object_generator(greys: list[np.ndarray], objects: list[list[list[SeenObject]]],
                      fit_generator: GeneratorFit | None) -> ObjectGenerator:
    """The generator on objects, trained on the normal objects' clips, and their `error` attributes set."""
    if fit_generator is None:
        raise UserError("memory.objects `error` needs the generator on objects, which this model does not have: "
                        "train one with `svdgan train`")
    clips = normal_clips(greys, objects)
    if not len(clips):
        raise UserError("no moving objects in the normal footage: the generator on objects needs some")
    generator = fit_generator(clips)
    sample = clips[np.random.default_rng(0).permutation(len(clips))[:FILL_CLIPS]]
    generator.fill = float(np.median(generator.log_errors(sample)))
    for g, seen in zip(greys, objects, strict=True):
        generator.add_to_video(g, seen)
    return generator


def keep_generator(memory: MotionMemory | None) -> GeneratorFit | None:
    """Calibrating keeps a model's trained generator on objects, as it keeps its frame generator:
    only the memory (and the objects' errors in it) is refitted on the new footage."""
    generator = memory.objects.generator if memory is not None and memory.objects is not None else None
    return None if generator is None else lambda clips: generator


def normal_stats(scores: np.ndarray) -> dict[str, float]:
    return {"mean": float(scores.mean()), "std": float(scores.std())}


def normal_greys(videos: list[VideoRef], config: Config, progress: bool = False) -> list[np.ndarray] | None:
    """The normal videos as grey frames for the memory, or None when the config has no memory."""
    if not config.memory.enabled:
        return None
    return [grey_video(v, config.memory.height)
            for v in tqdm(videos, desc="motion memory", unit="video", leave=False, disable=not progress)]

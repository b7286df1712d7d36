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
from svdgan.memory.bank import MotionMemory, video_looks, video_motion
from svdgan.memory.flow import grey_video, moving_share
from svdgan.memory.folds import folds
from svdgan.memory.look import LookMemory
from svdgan.memory.objects import ObjectPart, fit_object_memory, frame_scores
from svdgan.objects.appearance import ObjectGenerator, normal_clips
from svdgan.objects.attributes import SeenObject
from svdgan.objects.background import Background
from svdgan.objects.finder import ObjectFinder
from svdgan.utils.series import causal_smooth, normal_stats


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
    memory without its fold (so the scores are what unseen normal footage gets). With `config.look`,
    the looks of the cells that moved are remembered beside their motion; with `config.objects`, the
    memory of normal objects is fitted beside the cells' from the same flow; with its `error` group,
    `fit_generator` trains the generator on objects first."""
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
    # a look and the moving share in one tensor, so that the bank's frames are the same for both
    looks = [torch.cat([video_looks(g, config.cell), moving_share(c)[:, None]], 1) for g, c in zip(greys, cells)
             ] if config.look else None
    parts = ["cells", "look"] if looks is not None else ["cells"]
    raw = {name: [np.empty(len(c)) for c in cells] for name in parts}
    raw["cells"] = _held_out_distances(cells, config, frame_size)
    if looks is not None:
        for i, part in folds([len(c) for c in cells]):
            raw["look"][i][part] = _look_memory(_rest(looks, i, part), config).distances(looks[i][part, :-1],
                                                                                           looks[i][part, -1])
    normal = {name: [causal_smooth(r, smooth) for r in scores] for name, scores in raw.items()
              if name != "cells" or config.motion}
    memory = MotionMemory(fit_bank(cells, config), config, frame_size,
                          look=_look_memory(looks, config) if looks is not None else None)
    if background is not None:
        generator = _object_generator(greys, objects, fit_generator) if "error" in config.objects else None
        object_memory, held_out = fit_object_memory(objects)
        memory.objects = ObjectPart(background, object_memory, config.objects, generator)
        normal["objects"] = [causal_smooth(frame_scores(object_memory, v, config.objects), smooth) for v in held_out]
    if list(normal) != ["cells"]:  # the cells' motion alone is standardised with the fused scores, as before
        memory.stats = {name: normal_stats(np.concatenate(scores)) for name, scores in normal.items()}
    return memory, [memory.combine({name: scores[v] for name, scores in normal.items()}) for v in range(len(cells))]


def fit_cell_memory(cells: list[torch.Tensor], config: MemoryConfig, frame_size: tuple[int, int], smooth: int
                    ) -> tuple[MotionMemory, list[np.ndarray]]:
    """A memory of cells alone from normal footage's cells (N, D, gh, gw) per part (computed live, as
    `svdgan serve` learns a camera), and each part's smoothed scores against a memory without it."""
    if sum(len(c) for c in cells) < 8:
        raise UserError("the motion memory needs at least 8 normal frames")
    normal = [causal_smooth(r, smooth) for r in _held_out_distances(cells, config, frame_size)]
    return MotionMemory(fit_bank(cells, config), config, frame_size), normal


def _held_out_distances(cells: list[torch.Tensor], config: MemoryConfig, frame_size: tuple[int, int]
                        ) -> list[np.ndarray]:
    """Each part's frames' distances to a memory of the other parts (folds)."""
    raw = [np.empty(len(c)) for c in cells]
    for i, part in folds([len(c) for c in cells]):
        raw[i][part] = MotionMemory(fit_bank(_rest(cells, i, part), config), config, frame_size
                                    ).distances(cells[i][part])
    return raw


def _rest(videos: list[torch.Tensor], i: int, part: slice) -> list[torch.Tensor]:
    """The normal footage without video i's `part`: the other videos (one video: the rest of it)."""
    return [v for j, v in enumerate(videos) if j != i] or [torch.cat([videos[i][:part.start], videos[i][part.stop:]])]


def _look_memory(looks: list[torch.Tensor], config: MemoryConfig) -> LookMemory:
    """The looks (with their moving shares as the last channel) of the bank's frames."""
    bank = fit_bank(looks, config)
    return LookMemory.fit(bank[:, :-1], bank[:, -1])


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


def normal_greys(videos: list[VideoRef], config: Config, progress: bool = False) -> list[np.ndarray] | None:
    """The normal videos as grey frames for the memory, or None when the config has no memory."""
    if not config.memory.enabled:
        return None
    return [grey_video(v, config.memory.height)
            for v in tqdm(videos, desc="motion memory", unit="video", leave=False, disable=not progress)]

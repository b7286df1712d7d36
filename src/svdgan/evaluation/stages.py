"""What each stage of the live detector costs per frame, on the synthetic camera (a scene with
walkers, so that every stage has work): the grey frame, the optical flow, the cells and their
nearest normal cells, the looks of the cells that move and their nearest normal looks, background
subtraction, the objects (regions, tracks, attributes), the
generator on objects (each object's error from its clip of crops), their nearest normal objects.
The memory is fitted on the camera's own normal clips with the given cell settings, the look and
every object group, so the object stages are timed whether or not a model uses them; the generator on
objects runs with untrained weights, which cost what trained ones do.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any

import numpy as np

from svdgan.config import MemoryConfig
from svdgan.memory.fitting import fit_memory
from svdgan.memory.flow import FlowCells, cell_features, moving_share, to_grey
from svdgan.memory.look import cell_looks
from svdgan.model.generator import Generator
from svdgan.objects.appearance import ObjectGenerator, object_generator_config
from svdgan.objects.attributes import DESCRIBED, describe
from svdgan.objects.blobs import find_blobs
from svdgan.objects.tracks import Tracker

STAGES = ("grey", "flow", "cells", "look", "background", "objects", "object_generator", "object_memory")


def stage_costs(config: MemoryConfig, frames: int = 100, seed: int = 0, size: tuple[int, int] = (320, 240)
                ) -> dict[str, Any]:
    """Mean milliseconds per frame of each stage over `frames` live frames of `synthetic:seed`."""
    from svdgan.sources.synthetic import SynthSource

    source = SynthSource("stages", seed, size=size)
    normal = [np.stack([to_grey(f, config.height) for f in clip]) for clip in source.normal_clips(2)]
    memory, _ = fit_memory(normal, dataclasses.replace(config, enabled=True, look=True, objects=DESCRIBED), smooth=1)
    part, looks = memory.objects, memory.look
    assert part is not None and looks is not None
    live = [f for clip, _, _ in itertools.islice(source.labelled_clips(), frames // source.cfg.frames + 1)
            for f in clip][:frames]
    flow, tracker, background = FlowCells(config.cell), Tracker(), part.background.copy()
    generator_config = object_generator_config(config)
    errors = ObjectGenerator(Generator(generator_config.model), generator_config).stream()
    seconds = {stage: [] for stage in STAGES}
    previous, found = None, 0
    for image in live:
        marks = [time.perf_counter()]
        grey = to_grey(image, config.height)
        marks.append(time.perf_counter())
        vectors = flow.flow(previous, grey)
        marks.append(time.perf_counter())
        cells = cell_features(vectors, config.cell)
        memory.cell_distances(cells[None])
        marks.append(time.perf_counter())
        looks.cell_distances(cell_looks(grey, config.cell)[None], moving_share(cells)[None])
        marks.append(time.perf_counter())
        foreground = background.foreground(grey)
        background.adapt(grey, foreground)
        marks.append(time.perf_counter())
        objects = [describe(t, grey.shape[0]) for t in tracker.update(find_blobs(foreground, vectors, grey))]
        marks.append(time.perf_counter())
        errors.push(grey, objects)
        marks.append(time.perf_counter())
        part.frame_score(objects)
        marks.append(time.perf_counter())
        for stage, start, end in zip(STAGES, marks, marks[1:]):
            seconds[stage].append(end - start)
        previous, found = grey, found + len(objects)
    return {"frames": len(live), "frame_size": list(live[0].shape[:2]), "height": config.height,
            "cell": config.cell, "objects_per_frame": found / len(live),
            "ms_per_frame": {stage: 1000 * float(np.mean(s)) for stage, s in seconds.items()}}

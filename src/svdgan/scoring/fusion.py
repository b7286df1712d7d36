"""The generator's score fused with the memory of normal motion's, each standardised by its
normal statistics (fitted on normal footage only), and the one rule for footage the memory does
not fit.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch

from svdgan.config import Config
from svdgan.errors import UserError
from svdgan.memory.bank import MotionMemory, MotionStream
from svdgan.memory.explain import Why
from svdgan.memory.fitting import GeneratorFit, fit_cell_memory, fit_memory
from svdgan.model.generator import Generator
from svdgan.scoring.normalise import normalize, score_stats
from svdgan.scoring.video import normal_scores
from svdgan.utils.series import normal_stats


def calibrate_scores(generator: Generator, videos: list[np.ndarray], greys: list[np.ndarray] | None,
                     config: Config, fit_generator: GeneratorFit | None = None
                     ) -> tuple[dict[str, Any], MotionMemory | None]:
    """Normal-score statistics (and, with memory.enabled, the fitted memory whose fused scores
    they describe) from normal videos at model size and, for the memory, as grey frames. With
    score.generator false the generator is not run (and `videos` may be empty). `fit_generator`
    gives the generator on objects, where the memory's objects have the `error` group."""
    generator_scores = normal_scores(generator, videos, config) if config.score.generator else None
    return fuse_normal_scores(generator_scores, greys, config, fit_generator)


def fuse_normal_scores(generator_scores: list[np.ndarray] | None, greys: list[np.ndarray] | None,
                       config: Config, fit_generator: GeneratorFit | None = None
                       ) -> tuple[dict[str, Any], MotionMemory | None]:
    """Given the generator's (or a stand-in's) smoothed scores of the first frames of each normal
    video (None: no generator, score.generator false): their statistics, or, with memory.enabled,
    the memory fitted on the grey videos and the statistics of the fused scores."""
    tags = {"patch": config.score.patch, "smooth": config.score.smooth, "motion": config.memory.enabled,
            "generator": generator_scores is not None}
    if not config.memory.enabled:
        assert generator_scores is not None
        return {**score_stats(np.concatenate(generator_scores)), **tags}, None
    assert greys is not None
    memory, motion = fit_memory(greys, config.memory, config.score.smooth, fit_generator)
    if generator_scores is None:
        return _memory_alone(memory, motion, tags)
    g = np.concatenate(generator_scores)
    m = np.concatenate([s[:len(gs)] for s, gs in zip(motion, generator_scores)])
    memory.stats.update(generator=normal_stats(g), motion=normal_stats(m),
                        generator_scores={**score_stats(g), **tags, "motion": False})
    return {**score_stats(memory.fuse(g, m)), **tags}, memory


def fuse_cell_scores(cells: list[torch.Tensor], frame_size: tuple[int, int], config: Config
                     ) -> tuple[dict[str, Any], MotionMemory]:
    """The recipe that ships fitted on a camera's cells (N, D, gh, gw) per part, computed live as
    `svdgan serve` learns it: the memory and the statistics of its held-out scores."""
    if config.score.generator or config.memory.look or config.memory.objects:
        raise UserError("learning a camera live fits a memory of cells alone (the recipe that ships)")
    memory, motion = fit_cell_memory(cells, config.memory, frame_size, config.score.smooth)
    return _memory_alone(memory, motion, {"patch": config.score.patch, "smooth": config.score.smooth,
                                          "motion": True, "generator": False})


def _memory_alone(memory: MotionMemory, motion: list[np.ndarray], tags: dict[str, Any]
                  ) -> tuple[dict[str, Any], MotionMemory]:
    """A memory scoring alone: its held-out scores of every normal frame set its statistics."""
    m = np.concatenate(motion)
    memory.stats.update(motion=normal_stats(m))  # beside the cells' and objects' own, if it has objects
    return {**score_stats(memory.fuse(None, m)), **tags}, memory


def scoring_for_view(memory: MotionMemory | None, stats: dict[str, Any], shape: tuple[int, ...],
                     name: str) -> tuple[MotionMemory | None, dict[str, Any]]:
    """The one rule for footage the memory of normal motion does not fit (another camera view): it
    is scored by the generator alone, with the generator's own normal statistics, and this is said
    once on stderr; a model without a generator (score.generator false) cannot score it at all.
    shape: (H, W, ...) of the frames as read. Returns (memory or None, statistics)."""
    if memory is None or memory.fits(shape):
        return memory, stats
    h, w = memory.frame_size
    if "generator" not in memory.stats:
        raise UserError(f"{name}: its frames ({shape[1]}x{shape[0]}) have another aspect than the model's memory of "
                        f"normal motion ({w}x{h}): learn this camera first, from the start of the source "
                        "(`svdgan detect SOURCE --learn 2m`, in Python `stream(source, learn='2m')`) or from its "
                        "normal footage (`svdgan train --data NORMAL --out RUN`)")
    print(f"svdgan: {name}: its frames have another aspect than the motion memory's ({w}x{h}): scored by "
          "the generator alone; `--learn 2m` or `svdgan train` on this camera's normal footage fits a memory for it",
          file=sys.stderr)
    return None, memory.generator_stats


class SourceScores:
    """One live source's scores: the generator's fused with the memory's, by `scoring_for_view`'s
    rule (decided at the source's first frame)."""

    def __init__(self, memory: MotionMemory | None, stats: dict[str, Any], smooth: int, name: str):
        self.memory, self.stats, self.smooth, self.name = memory, stats, smooth, name
        self.motion: MotionStream | None = None
        self.keep: torch.Tensor | None = None
        self._decided = memory is None

    def set_ignore(self, keep: torch.Tensor | None) -> None:
        self.keep = keep
        if self.motion is not None:
            self.motion.set_ignore(keep)

    def score(self, generator_score: float | None, image: np.ndarray) -> float:
        """The frame's generator score (raw, smoothed; None: no generator) and the frame as read ->
        its normalised score."""
        if not self._decided:
            self._decided = True
            self.memory, self.stats = scoring_for_view(self.memory, self.stats, image.shape, self.name)
            if self.memory is not None:
                self.motion = self.memory.stream(self.smooth)
                self.motion.set_ignore(self.keep)
        raw = None if generator_score is None else np.array([generator_score])
        if self.motion is not None:
            raw = self.memory.fuse(raw, np.array([self.motion.push(image)]))
        return float(normalize(raw, "train", self.stats)[0])

    @property
    def why(self) -> Why | None:
        """What made the last frame unusual and where (None: no memory scores this source)."""
        return None if self.motion is None else self.motion.why

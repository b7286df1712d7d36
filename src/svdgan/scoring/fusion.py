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
from svdgan.memory.bank import MotionMemory, MotionStream
from svdgan.memory.fitting import fit_memory, normal_stats
from svdgan.model.generator import Generator
from svdgan.scoring.normalise import normalize, score_stats
from svdgan.scoring.video import normal_scores


def calibrate_scores(generator: Generator, videos: list[np.ndarray], greys: list[np.ndarray] | None,
                     config: Config) -> tuple[dict[str, Any], MotionMemory | None]:
    """Normal-score statistics (and, with memory.enabled, the fitted memory whose fused scores
    they describe) from normal videos at model size and, for the memory, as grey frames."""
    return fuse_normal_scores(normal_scores(generator, videos, config), greys, config)


def fuse_normal_scores(generator_scores: list[np.ndarray], greys: list[np.ndarray] | None,
                       config: Config) -> tuple[dict[str, Any], MotionMemory | None]:
    """Given the generator's (or a stand-in's) smoothed scores of the first frames of each normal
    video: their statistics, or, with memory.enabled, the memory fitted on the grey videos and the
    statistics of the fused scores."""
    tags = {"patch": config.score.patch, "smooth": config.score.smooth, "motion": config.memory.enabled}
    g = np.concatenate(generator_scores)
    if not config.memory.enabled:
        return {**score_stats(g), **tags}, None
    assert greys is not None
    memory, motion = fit_memory(greys, config.memory, config.score.smooth)
    m = np.concatenate([s[:len(gs)] for s, gs in zip(motion, generator_scores)])
    memory.stats = {"generator": normal_stats(g), "motion": normal_stats(m),
                    "generator_scores": {**score_stats(g), **tags, "motion": False}}
    return {**score_stats(memory.fuse(g, m)), **tags}, memory


def scoring_for_view(memory: MotionMemory | None, stats: dict[str, Any], shape: tuple[int, ...],
                     name: str) -> tuple[MotionMemory | None, dict[str, Any]]:
    """The one rule for footage the memory of normal motion does not fit (another camera view): it
    is scored by the generator alone, with the generator's own normal statistics, and this is said
    once on stderr. shape: (H, W, ...) of the frames as read. Returns (memory or None, statistics)."""
    if memory is None or memory.fits(shape):
        return memory, stats
    h, w = memory.frame_size
    print(f"svdgan: {name}: its frames have another aspect than the motion memory's ({w}x{h}): scored by "
          "the generator alone; `svdgan calibrate` on this camera's normal footage fits a memory for it",
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

    def score(self, generator_score: float, image: np.ndarray) -> float:
        """The frame's generator score (raw, smoothed) and the frame as read -> its normalised score."""
        if not self._decided:
            self._decided = True
            self.memory, self.stats = scoring_for_view(self.memory, self.stats, image.shape, self.name)
            if self.memory is not None:
                self.motion = self.memory.stream(self.smooth)
                self.motion.set_ignore(self.keep)
        raw = np.array([generator_score])
        if self.motion is not None:
            raw = self.memory.fuse(raw, np.array([self.motion.push(image)]))
        return float(normalize(raw, "train", self.stats)[0])

"""Fitting the memory of normal motion on a camera's normal footage, and the normal scores of
that footage, each part scored against a memory fitted without it.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from svdgan.config import Config, MemoryConfig
from svdgan.data.frames import VideoRef
from svdgan.errors import UserError
from svdgan.memory.bank import MotionMemory
from svdgan.memory.flow import grey_video, video_cells
from svdgan.scoring.normalise import causal_smooth


def fit_bank(cells: list[torch.Tensor], config: MemoryConfig) -> torch.Tensor:
    """Normal cells (N, D, gh, gw) -> the bank: every `every`-th frame, at most max_frames, evenly spread."""
    bank = torch.cat([c[::config.every] for c in cells])
    if len(bank) > config.max_frames:
        bank = bank[torch.linspace(0, len(bank) - 1, config.max_frames).long()]
    return bank


def folds(lengths: list[int]) -> list[tuple[int, slice]]:
    """Parts of the normal footage, each scored against a memory of the rest: its videos, or the
    quarters of its one video."""
    if len(lengths) >= 2:
        return [(i, slice(0, n)) for i, n in enumerate(lengths)]
    bounds = np.linspace(0, lengths[0], 5).astype(int)
    return [(0, slice(int(a), int(b))) for a, b in zip(bounds[:-1], bounds[1:])]


def fit_memory(greys: list[np.ndarray], config: MemoryConfig, smooth: int) -> tuple[MotionMemory, list[np.ndarray]]:
    """A memory of the normal grey videos (N, h, w), and every normal frame's smoothed motion
    score from a memory without its fold (so the scores are what unseen normal footage gets)."""
    if len({g.shape[1:] for g in greys}) != 1:
        raise UserError("normal videos of different frame sizes: calibrate the motion memory per camera")
    if sum(len(g) for g in greys) < 8:
        raise UserError("the motion memory needs at least 8 normal frames")
    frame_size = greys[0].shape[1:]
    cells = [video_cells(g, config.cell) for g in greys]
    raw = [np.empty(len(c)) for c in cells]
    for i, part in folds([len(c) for c in cells]):
        rest = [c for j, c in enumerate(cells) if j != i] or [  # one video: the rest of it
            torch.cat([cells[i][:part.start], cells[i][part.stop:]])]
        raw[i][part] = MotionMemory(fit_bank(rest, config), config, frame_size).distances(cells[i][part])
    return MotionMemory(fit_bank(cells, config), config, frame_size), [causal_smooth(r, smooth) for r in raw]


def normal_stats(scores: np.ndarray) -> dict[str, float]:
    return {"mean": float(scores.mean()), "std": float(scores.std())}


def normal_greys(videos: list[VideoRef], config: Config, progress: bool = False) -> list[np.ndarray] | None:
    """The normal videos as grey frames for the memory, or None when the config has no memory."""
    if not config.memory.enabled:
        return None
    return [grey_video(v, config.memory.height)
            for v in tqdm(videos, desc="motion memory", unit="video", leave=False, disable=not progress)]

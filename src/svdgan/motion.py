"""A memory of normal motion: where, and how fast, things move in a camera's normal footage.

Each frame's dense optical flow from the previous frame (OpenCV DIS) is computed on the
grey frame at `memory.height` px and summarised per cell of `memory.cell` px: mean flow
(dx, dy), mean and maximum speed, and the share of moving pixels. The memory holds the cells
of normal frames; a frame's motion score is its worst cell's distance to the nearest normal
cell at the same or a neighbouring position (nearest neighbours, as PatchCore, with position).
A cyclist at walking pace in a crowd still moves unlike anything that moved *there* before.

The frame's score adds the generator's and the memory's, each standardised by its normal
statistics (fitted on normal footage only: the memory's from each training video scored
against a memory without it). Fitted at the end of training and by `svdgan calibrate`, and
stored in the checkpoint: the flow is per camera, so a new camera needs its own calibration.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree
from tqdm import tqdm

from .config import Config, MemoryConfig
from .data.frames import VideoRef
from .errors import UserError
from .generator import Generator
from .scoring import causal_smooth, normal_scores, normalize, score_stats

MOVING = 1.0  # px per frame at memory.height: a pixel that moves more counts as moving
N_FEATURES = 5


def working_size(shape: tuple[int, ...], height: int) -> tuple[int, int]:
    """(H, W, ...) of a frame as read -> (h, w) of its grey frame at `height` px, aspect kept."""
    return height, max(1, round(shape[1] * height / shape[0]))


def to_grey(image: np.ndarray, height: int) -> np.ndarray:
    """(H, W, 3) RGB or (H, W) grey uint8 -> (h, w) grey uint8 at `height` px."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    h, w = working_size(image.shape, height)
    if grey.shape != (h, w):
        grey = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA)
    return grey


def cell_features(flow: np.ndarray, cell: int) -> torch.Tensor:
    """(h, w, 2) optical flow -> (N_FEATURES, h // cell, w // cell): per cell, the mean flow
    (dx, dy), the mean and maximum speed, and the share of moving pixels (a partial last cell
    is left out)."""
    gh, gw = flow.shape[0] // cell, flow.shape[1] // cell
    blocks = flow[:gh * cell, :gw * cell].reshape(gh, cell, gw, cell, 2).astype(np.float32)
    speed = np.sqrt((blocks ** 2).sum(-1))  # (gh, cell, gw, cell)
    cells = [blocks.mean((1, 3)).transpose(2, 0, 1), speed.mean((1, 3))[None], speed.max((1, 3))[None],
             2 * (speed > MOVING).mean((1, 3))[None]]  # x2: a share weighs about as a speed
    return torch.from_numpy(np.concatenate(cells).astype(np.float32))


class FlowCells:
    """Cell features of the motion between consecutive grey frames (one per stream: DIS keeps buffers)."""

    def __init__(self, cell: int):
        self.cell = cell
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def flow(self, previous: np.ndarray | None, grey: np.ndarray) -> np.ndarray:
        """(h, w, 2) dense flow from the previous grey frame (none: no motion)."""
        if previous is None:
            return np.zeros((*grey.shape, 2), np.float32)
        return self.dis.calc(previous, grey, None)

    def __call__(self, previous: np.ndarray | None, grey: np.ndarray) -> torch.Tensor:
        """(h, w) grey frames -> (N_FEATURES, h // cell, w // cell)."""
        return cell_features(self.flow(previous, grey), self.cell)


def video_cells(greys: Iterable[np.ndarray], cell: int) -> torch.Tensor:
    """Consecutive grey frames -> (N, N_FEATURES, gh, gw)."""
    flow, previous, out = FlowCells(cell), None, []
    for grey in greys:
        out.append(flow(previous, grey))
        previous = grey
    if not out:
        raise UserError("no frames to compute motion from")
    return torch.stack(out)


def grey_video(video: VideoRef, height: int) -> np.ndarray:
    """All frames of a video as grey frames at `height` px: (N, h, w) uint8."""
    return np.stack([to_grey(frame, height) for frame in video.frames()])


def _with_neighbours(cells: torch.Tensor) -> torch.Tensor:
    """(M, D, gh, gw) -> (gh*gw, 9M, D): for each position, the cells at it and its 8 neighbours."""
    m, d, gh, gw = cells.shape
    padded = F.pad(cells, (1, 1, 1, 1), mode="replicate")
    shifted = torch.stack([padded[:, :, y:y + gh, x:x + gw] for y in range(3) for x in range(3)], 1)
    return shifted.permute(3, 4, 0, 1, 2).reshape(gh * gw, m * 9, d)


@contextmanager
def _denormals_kept() -> Iterator[None]:
    """scipy's k-d tree crashes (segmentation fault) while denormals are flushed to zero, which
    StreamScorer turns on for torch's speed: off here, back on after."""
    flushed = torch.tensor([1e-40]).mul(1.0).item() == 0.0
    if flushed:
        torch.set_flush_denormal(False)
    try:
        yield
    finally:
        if flushed:
            torch.set_flush_denormal(True)


class MotionMemory:
    """Normal cells and the statistics that fuse the motion score with the generator's."""

    def __init__(self, bank: torch.Tensor, config: MemoryConfig, frame_size: tuple[int, int],
                 stats: dict[str, dict[str, float]] | None = None):
        self.bank = bank.float()  # (M, D, gh, gw)
        self.config = config
        self.frame_size = tuple(frame_size)  # (h, w) of the grey frames it was fitted on
        self.stats = stats or {}  # {"generator": {mean, std}, "motion": {mean, std}, "generator_scores"}
        self._trees: list[cKDTree] | None = None  # per position: its normal cells and its neighbours'

    def _nearest(self, queries: np.ndarray) -> np.ndarray:
        """(G, N, D) queries per position -> (G, N) distance to the nearest normal cell there (exact,
        with one k-d tree per position, several times faster than a brute-force search on Ped2)."""
        with _denormals_kept():
            if self._trees is None:  # repeated cells (still places) are kept once: the nearest is the same
                self._trees = [cKDTree(np.unique(points.astype(np.float64), axis=0))
                               for points in _with_neighbours(self.bank).numpy()]
            return np.stack([tree.query(q, k=1)[0] for tree, q in zip(self._trees, queries)])

    @property
    def grid(self) -> tuple[int, int]:
        return tuple(self.bank.shape[-2:])

    def fits(self, shape: tuple[int, ...]) -> bool:
        """Whether frames of `shape` (H, W, ...) give the memory's grid of cells."""
        h, w = working_size(shape, self.config.height)
        return (h // self.config.cell, w // self.config.cell) == self.grid

    @property
    def generator_stats(self) -> dict[str, Any]:
        """Normal-score statistics of the generator alone, for footage the memory does not fit."""
        if "generator_scores" not in self.stats:
            raise UserError("the motion memory does not fit this footage: run `svdgan calibrate` on its normal footage")
        return self.stats["generator_scores"]

    def distances(self, cells: torch.Tensor, keep: torch.Tensor | None = None) -> np.ndarray:
        """(N, D, gh, gw) -> (N,) each frame's worst cell distance to the nearest normal cell.
        keep (gh, gw): 1 where a cell counts (ignored regions are 0)."""
        if tuple(cells.shape[-2:]) != self.grid:
            h, w = self.frame_size
            raise UserError(f"the motion memory was fitted on frames of aspect {w}x{h}, these give another "
                            "grid: run `svdgan calibrate` on this camera's normal footage")
        n, d, gh, gw = cells.shape
        nearest = self._nearest(cells.float().permute(2, 3, 0, 1).reshape(gh * gw, n, d).numpy())  # (G, N)
        if keep is not None:
            nearest = nearest * keep.reshape(-1, 1).numpy()
        return nearest.max(0).astype(np.float64)

    def video_scores(self, greys: np.ndarray, smooth: int) -> np.ndarray:
        """Smoothed motion scores of a whole video of grey frames."""
        return causal_smooth(self.distances(video_cells(greys, self.config.cell)), smooth)

    def fuse(self, generator: np.ndarray, motion: np.ndarray) -> np.ndarray:
        """Generator + weight x motion, each in standard deviations of its normal scores."""
        g, m = self.stats["generator"], self.stats["motion"]
        return ((generator - g["mean"]) / max(g["std"], 1e-12)
                + self.config.weight * (motion - m["mean"]) / max(m["std"], 1e-12))

    def stream(self, smooth: int) -> MotionStream:
        return MotionStream(self, smooth)

    def to_payload(self) -> dict[str, Any]:
        return {"bank": self.bank.half(), "frame_size": list(self.frame_size), "stats": self.stats,
                "config": {"height": self.config.height, "cell": self.config.cell, "weight": self.config.weight}}

    @classmethod
    def from_payload(cls, payload: dict[str, Any] | None, config: MemoryConfig) -> MotionMemory | None:
        if not payload:
            return None
        try:
            saved = MemoryConfig(enabled=True, **payload["config"])
            saved.every, saved.max_frames = config.every, config.max_frames
            memory = cls(payload["bank"], saved, payload["frame_size"], payload["stats"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise UserError(f"the checkpoint's motion memory is malformed: {exc}") from None
        if memory.bank.ndim != 4 or memory.bank.shape[1] != N_FEATURES:
            raise UserError("the checkpoint's motion memory is malformed: bad bank shape")
        return memory


class MotionStream:
    """One stream's motion score, a frame at a time: its previous grey frame and recent distances."""

    def __init__(self, memory: MotionMemory, smooth: int):
        self.memory = memory
        self.flow = FlowCells(memory.config.cell)
        self.previous: np.ndarray | None = None
        self.recent: deque[float] = deque(maxlen=smooth)
        self.keep: torch.Tensor | None = None

    def set_ignore(self, keep: torch.Tensor | None) -> None:
        """keep (S, S) at any size, 1 where scored: cells mostly outside it are not scored."""
        self.keep = None if keep is None else (
            F.adaptive_avg_pool2d(keep.float()[None, None], self.memory.grid)[0, 0] >= 0.5).float()

    def push(self, image: np.ndarray) -> float:
        """The frame as read, (H, W, 3) RGB uint8 -> its smoothed motion score."""
        grey = to_grey(image, self.memory.config.height)
        if self.previous is not None and self.previous.shape != grey.shape:
            self.previous = None  # the source changed size: start over
        cells = self.flow(self.previous, grey)
        self.previous = grey
        self.recent.append(float(self.memory.distances(cells[None], self.keep)[0]))
        return sum(self.recent) / len(self.recent)


def fit_bank(cells: list[torch.Tensor], config: MemoryConfig) -> torch.Tensor:
    """Normal cells (N, D, gh, gw) -> the bank: every `every`-th frame, at most max_frames, evenly spread."""
    bank = torch.cat([c[::config.every] for c in cells])
    if len(bank) > config.max_frames:
        bank = bank[torch.linspace(0, len(bank) - 1, config.max_frames).long()]
    return bank


def _folds(lengths: list[int]) -> list[tuple[int, slice]]:
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
    for i, part in _folds([len(c) for c in cells]):
        rest = [c for j, c in enumerate(cells) if j != i] or [  # one video: the rest of it
            torch.cat([cells[i][:part.start], cells[i][part.stop:]])]
        raw[i][part] = MotionMemory(fit_bank(rest, config), config, frame_size).distances(cells[i][part])
    return MotionMemory(fit_bank(cells, config), config, frame_size), [causal_smooth(r, smooth) for r in raw]


def normal_stats(scores: np.ndarray) -> dict[str, float]:
    return {"mean": float(scores.mean()), "std": float(scores.std())}


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


def normal_greys(videos: list[VideoRef], config: Config, progress: bool = False) -> list[np.ndarray] | None:
    """The normal videos as grey frames for the memory, or None when the config has no memory."""
    if not config.memory.enabled:
        return None
    return [grey_video(v, config.memory.height)
            for v in tqdm(videos, desc="motion memory", unit="video", leave=False, disable=not progress)]


class SourceScores:
    """One live source's scores: the generator's fused with the memory's where the memory fits the
    source's view (decided at its first frame), else the generator's alone, said once on stderr."""

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
            if self.memory.fits(image.shape):
                self.motion = self.memory.stream(self.smooth)
                self.motion.set_ignore(self.keep)
            else:
                h, w = self.memory.frame_size
                print(f"svdgan: {self.name}: its frames have another aspect than the motion memory's "
                      f"({w}x{h}): scored by the generator alone; `svdgan calibrate` on this camera's normal "
                      "footage fits a memory for it", file=sys.stderr)
                self.stats = self.memory.generator_stats
        raw = np.array([generator_score])
        if self.motion is not None:
            raw = self.memory.fuse(raw, np.array([self.motion.push(image)]))
        return float(normalize(raw, "train", self.stats)[0])


def load_memory(payload: dict[str, Any], config: Config) -> MotionMemory | None:
    """The checkpoint's motion memory, or None when it has none."""
    return MotionMemory.from_payload(payload.get("motion"), config.memory)

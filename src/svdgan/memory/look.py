"""The look of what moves, cell by cell: each cell's histogram of oriented gradients, compared,
where the cell moves, with the looks of the normal cells that moved at and next to the same place.

Motion per place cannot tell a cyclist at walking pace from a walker; the edges of the wheels can.
No segmentation is needed, so walkers that merge into one region in a crowd do not matter, as they
do for the memory of normal objects. The settings are chosen on the synthetic scene
(`python -m research.cell_look`).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

from svdgan.errors import UserError
from svdgan.memory.nearest import NearestTree

ORIENTATIONS = 9  # bins of unsigned gradient orientation
SPLIT = 2  # each cell's histogram is taken over SPLIT x SPLIT parts of it
N_LOOK = SPLIT * SPLIT * ORIENTATIONS
GATE = 0.0  # a cell's look counts where more than this share of its pixels move (chosen on the synthetic scene)


def cell_looks(grey: np.ndarray, cell: int, moving: np.ndarray | None = None) -> torch.Tensor:
    """(h, w) grey frame -> (N_LOOK, gh, gw) each cell's look: its gradients' magnitude per
    orientation in each part of the cell, scaled to unit length (light and contrast do not count).
    Given an (h, w) mask of the pixels that move, only their gradients count (the background a cell
    also holds does not)."""
    g = grey.astype(np.float32)
    gh, gw = grey.shape[0] // cell, grey.shape[1] // cell
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)[:gh * cell, :gw * cell]
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)[:gh * cell, :gw * cell]
    magnitude, angle = cv2.cartToPolar(gx, gy)
    if moving is not None:
        magnitude *= moving[:gh * cell, :gw * cell]
    # bins centred on 0, pi/9, ...: an edge at 0 and one at pi (the same, unsigned) share a bin
    bins = np.floor(np.mod(angle, np.pi) * (ORIENTATIONS / np.pi) + 0.5).astype(np.int64) % ORIENTATIONS
    part = cell // SPLIT
    rows, cols = np.arange(gh * cell) // part, np.arange(gw * cell) // part
    index = (rows[:, None] * (gw * SPLIT) + cols[None, :]) * ORIENTATIONS + bins
    histogram = np.bincount(index.ravel(), weights=magnitude.ravel(), minlength=gh * gw * N_LOOK)
    looks = histogram.reshape(gh, SPLIT, gw, SPLIT, ORIENTATIONS).transpose(0, 2, 1, 3, 4).reshape(gh, gw, N_LOOK)
    looks /= np.maximum(np.linalg.norm(looks, axis=-1, keepdims=True), 1e-6)
    return torch.from_numpy(looks.transpose(2, 0, 1).astype(np.float32))


class LookMemory:
    """The looks of normal cells where they moved, by position; a cell's distance to the nearest of
    those at its position and its 8 neighbours."""

    def __init__(self, looks: np.ndarray, positions: np.ndarray, grid: tuple[int, int], gate: float = GATE):
        self.gate = gate  # a cell moves where more than this share of its pixels move
        self.looks = looks.astype(np.float32)  # (K, N_LOOK) normal cells' looks, where they moved
        self.positions = positions.astype(np.int64)  # (K,) their positions, row-major in `grid`
        self.grid = tuple(grid)
        self._trees: dict[int, NearestTree] | None = None

    @classmethod
    def fit(cls, looks: torch.Tensor, moving: torch.Tensor, gate: float = GATE) -> LookMemory:
        """Normal frames' looks (N, N_LOOK, gh, gw) and moving shares (N, gh, gw) -> the memory of the
        looks of the cells that moved."""
        n, d, gh, gw = looks.shape
        frames, positions = np.nonzero((moving > gate).reshape(n, gh * gw).numpy())
        return cls(looks.reshape(n, d, gh * gw).permute(0, 2, 1).numpy()[frames, positions], positions, (gh, gw),
                   gate)

    def _build(self) -> dict[int, NearestTree]:
        if self._trees is None:
            gh, gw = self.grid
            rows, cols = np.divmod(self.positions, gw)
            self._trees = {}
            for position in range(gh * gw):
                row, col = divmod(position, gw)
                near = (np.abs(rows - row) <= 1) & (np.abs(cols - col) <= 1)
                if near.any():  # a place where nothing moved in normal footage has no looks to compare with
                    self._trees[position] = NearestTree(self.looks[near], unique=True)
        return self._trees

    def cell_distances(self, looks: torch.Tensor, moving: torch.Tensor, keep: torch.Tensor | None = None
                       ) -> np.ndarray:
        """(N, N_LOOK, gh, gw) looks and (N, gh, gw) moving shares -> (gh * gw, N) each moving cell's
        distance to the nearest normal look near it (0 where the cell does not move)."""
        if tuple(looks.shape[-2:]) != self.grid:
            raise UserError("the memory of normal looks was fitted on frames of another grid: run `svdgan "
                            "calibrate` on this camera's normal footage")
        n, d, gh, gw = looks.shape
        queries = looks.reshape(n, d, gh * gw).permute(2, 0, 1).numpy().astype(np.float64)  # (G, N, D)
        moves = (moving > self.gate).reshape(n, gh * gw).T.numpy()  # (G, N)
        if keep is not None:
            moves &= keep.reshape(-1, 1).numpy() > 0
        out = np.zeros((gh * gw, n))
        for position, tree in self._build().items():
            if moves[position].any():
                out[position, moves[position]] = tree.distances(queries[position, moves[position]])
        return out

    def distances(self, looks: torch.Tensor, moving: torch.Tensor) -> np.ndarray:
        """(N,) each frame's worst moving cell's look distance (0: nothing moves)."""
        return self.cell_distances(looks, moving).max(0)

    def to_payload(self) -> dict[str, Any]:
        return {"looks": torch.from_numpy(self.looks).half(), "positions": torch.from_numpy(self.positions).int(),
                "grid": list(self.grid), "gate": self.gate}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> LookMemory:
        try:
            memory = cls(payload["looks"].float().numpy(), payload["positions"].long().numpy(), payload["grid"],
                         float(payload["gate"]))
        except (KeyError, AttributeError, TypeError) as exc:
            raise UserError(f"the checkpoint's memory of normal looks is malformed: {exc}") from None
        if memory.looks.ndim != 2 or memory.looks.shape[1] != N_LOOK or len(memory.looks) != len(memory.positions):
            raise UserError("the checkpoint's memory of normal looks is malformed: bad shapes")
        return memory


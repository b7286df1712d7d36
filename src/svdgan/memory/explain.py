"""Why a frame is unusual, in words an operator reads: the worst cell's motion set against the
normal motion nearest to it at that place, and where that cell lies in the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svdgan.memory.flow import MOVING

FASTER = 1.5  # faster than this many times the fastest normal motion there (99th percentile) is "fast"
TURNED = 0.5  # no normal motion there within 60 degrees of its direction (cosine below this): "direction"


@dataclass(frozen=True)
class Why:
    reason: str  # e.g. "fast for this place"
    box: tuple[int, int, int, int]  # x, y, w, h in the frame as read

    def to_dict(self) -> dict[str, object]:
        return {"reason": self.reason, "box": list(self.box)}


@dataclass(frozen=True)
class PlaceMotion:
    """The normal motion at one place (a cell's position and its neighbours)."""

    fastest: float  # 99th percentile of the normal cells' maximum speed there
    directions: np.ndarray  # (M, 2) unit mean directions of the normal cells that move there

    @classmethod
    def of(cls, cells: np.ndarray) -> PlaceMotion:
        """(M, D) the normal cells at a place -> its normal motion."""
        moving = cells[np.hypot(cells[:, 0], cells[:, 1]) > MOVING / 2, :2]
        return cls(float(np.percentile(cells[:, 3], 99)), moving / np.linalg.norm(moving, axis=1, keepdims=True))


def motion_reason(cell: np.ndarray, place: PlaceMotion) -> str:
    """A cell's features (mean dx, dy, mean and maximum speed, 2 x moving share) against the normal
    motion at its place -> what is unusual about its motion."""
    dx, dy, _, fastest, _ = (float(v) for v in cell)
    if place.fastest < MOVING / 2:
        return "moving where nothing moves"
    if fastest > FASTER * place.fastest:
        return "fast for this place"
    if np.hypot(dx, dy) > MOVING / 2 and (
            not len(place.directions) or (place.directions @ np.array([dx, dy])).max() < TURNED * np.hypot(dx, dy)):
        return "unusual direction for this place"
    return "unusual motion for this place"


def cell_box(position: int, grid: tuple[int, int], cell: int, height: int, shape: tuple[int, ...]
             ) -> tuple[int, int, int, int]:
    """A cell (row-major `position` in `grid`, `cell` px at `height` px) -> its box in a frame of
    `shape` (H, W, ...)."""
    row, col = divmod(position, grid[1])
    scale = shape[0] / height
    x, y, side = round(col * cell * scale), round(row * cell * scale), round(cell * scale)
    return x, y, min(side, shape[1] - x), min(side, shape[0] - y)

"""Motion features: each frame's dense optical flow from the previous one (OpenCV DIS) on the grey
frame at `memory.height` px, summarised per cell of `memory.cell` px: mean flow (dx, dy), mean
and maximum speed, and the share of moving pixels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np
import torch

from svdgan.data.frames import VideoRef

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


def moving_share(cells: torch.Tensor) -> torch.Tensor:
    """(..., N_FEATURES, gh, gw) cell features -> (..., gh, gw) each cell's share of moving pixels."""
    return cells[..., 4, :, :] / 2


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


def video_flows(greys: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Consecutive grey frames -> each (grey frame, its (h, w, 2) flow from the previous one)."""
    flow, previous = FlowCells(1), None
    for grey in greys:
        yield grey, flow.flow(previous, grey)
        previous = grey


def grey_video(video: VideoRef, height: int) -> np.ndarray:
    """All frames of a video as grey frames at `height` px: (N, h, w) uint8."""
    return np.stack([to_grey(frame, height) for frame in video.frames()])

"""A dataset's videos (a frame folder or a video file, read through sources/), and frames turned into
model input."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from svdgan.sources.video import open_file


@dataclass(frozen=True)
class VideoRef:
    """One video: a folder of frame images or a video file."""

    name: str
    path: Path

    @property
    def is_file(self) -> bool:
        return self.path.is_file()

    def frames(self) -> Iterator[np.ndarray]:
        """RGB uint8 frames (H, W, 3), in order: decoded as `svdgan detect` decodes the same path."""
        for frame in open_file(self.path).frames():
            yield frame.image


def resize(frame: np.ndarray, size: int, channels: int) -> np.ndarray:
    """(H, W, 3) RGB uint8 -> (channels, size, size) uint8."""
    if frame.shape[0] != size or frame.shape[1] != size:
        frame = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
    if channels == 1:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[:, :, None]
    return np.ascontiguousarray(frame.transpose(2, 0, 1))


def load_video(video: VideoRef, size: int, channels: int) -> np.ndarray:
    """All frames of a video at model size: (N, channels, size, size) uint8."""
    frames = [resize(frame, size, channels) for frame in video.frames()]
    return np.stack(frames)


def to_model_range(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1], the range of the generator's tanh output."""
    if isinstance(frames, np.ndarray) and not frames.flags.writeable:  # e.g. a memory-mapped cache
        frames = np.array(frames)
    frames = torch.as_tensor(frames)
    return frames.float().div_(127.5).sub_(1.0)

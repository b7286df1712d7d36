"""Reading frames from frame folders and video files, and turning them into model input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from svdgan.errors import UserError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"}
VIDEO_EXTENSIONS = {".avi", ".mp4", ".mov", ".mkv", ".mpg", ".mpeg", ".m4v"}


def natural_key(path: Path) -> list:
    """Sort 2.jpg before 10.jpg, Test002 before Test010."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def image_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                  key=natural_key)


def to_rgb(image: np.ndarray, source: str) -> np.ndarray:
    """Any OpenCV image (gray, BGR, BGRA, 16-bit) -> (H, W, 3) uint8 RGB."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise UserError(f"unsupported pixel type {image.dtype} in {source}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    raise UserError(f"unsupported image shape {image.shape} in {source}")


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise UserError(f"cannot read frame {path} (missing, empty or corrupt)")
    return to_rgb(image, str(path))


def iter_video_file(path: Path) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise UserError(f"cannot open video {path}")
    try:
        count = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield to_rgb(frame, str(path))
        if count == 0:
            raise UserError(f"video {path} has no readable frames")
    finally:
        capture.release()


@dataclass(frozen=True)
class VideoRef:
    """One video: a folder of frame images or a video file."""

    name: str
    path: Path

    @property
    def is_file(self) -> bool:
        return self.path.is_file()

    def frames(self) -> Iterator[np.ndarray]:
        """RGB uint8 frames (H, W, 3), in order."""
        if self.is_file:
            yield from iter_video_file(self.path)
            return
        files = image_files(self.path)
        if not files:
            raise UserError(f"frame folder {self.path} holds no images")
        first = None
        for file in files:
            image = read_image(file)
            first = first or image.shape
            if image.shape != first:
                raise UserError(f"frame {file} is {image.shape[1]}x{image.shape[0]}, "
                                f"the video's first frame {first[1]}x{first[0]}: mixed frame sizes")
            yield image


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

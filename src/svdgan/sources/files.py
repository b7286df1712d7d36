"""Decoding frames: image files and their natural order, and any OpenCV image as RGB uint8."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

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

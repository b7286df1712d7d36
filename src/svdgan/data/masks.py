"""Pixel-level ground truth: one anomaly mask per test frame.

    UCSD        Test/TestNNN_gt/*.bmp   one mask image per frame
    Avenue      testing_label_mask/N_label.mat   a cell `volLabel` of H x W masks
    ShanghaiTech testing/test_pixel_mask/<video>.npy   an (N, H, W) array
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from svdgan.errors import UserError
from svdgan.sources.files import image_files


@dataclass(frozen=True)
class PixelMasks:
    path: Path  # a folder of mask images, a .npy array or a .mat with `volLabel`

    def load(self) -> np.ndarray:
        """(N, H, W) bool, at the masks' own resolution."""
        try:
            if self.path.is_dir():
                files = image_files(self.path)
                masks = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]
                if not files or any(m is None for m in masks):
                    raise UserError(f"pixel masks {self.path}: missing or unreadable mask images")
                return np.stack(masks) > 0
            if self.path.suffix.lower() == ".npy":
                masks = np.load(self.path, allow_pickle=False)
            else:
                masks = _vol_label(self.path)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read pixel masks {self.path}: {str(exc).splitlines()[0][:200]}") from None
        if masks.ndim != 3:
            raise UserError(f"pixel masks {self.path} must be frames x height x width, got shape {masks.shape}")
        return masks > 0

    def at_size(self, n_frames: int, size: int, video: str = "") -> np.ndarray:
        """(n_frames, size, size) bool masks, resized like the frames (nearest neighbour)."""
        masks = self.load()
        if len(masks) != n_frames:
            raise UserError(f"pixel masks for video {video} hold {len(masks)} frames, the video {n_frames} frames")
        return np.stack([cv2.resize(m.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST)
                         for m in masks]).astype(bool)


def _vol_label(path: Path) -> np.ndarray:
    import scipy.io

    try:
        data = scipy.io.loadmat(str(path))
    except (NotImplementedError, TypeError) as exc:
        raise ValueError(str(exc)) from None
    if "volLabel" not in data:
        raise UserError(f"pixel masks {path} have no variable 'volLabel'")
    cell = np.asarray(data["volLabel"])
    if cell.dtype != object or cell.size == 0:
        raise UserError(f"pixel masks {path}: 'volLabel' must be a cell of H x W masks")
    frames = [np.asarray(m) for m in cell.ravel()]
    if any(f.ndim != 2 or f.shape != frames[0].shape for f in frames):
        raise UserError(f"pixel masks {path}: 'volLabel' masks must all be H x W of one size")
    return np.stack(frames)

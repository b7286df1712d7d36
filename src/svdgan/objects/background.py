"""A fixed camera's empty scene, learnt from its normal footage: the per-pixel median of normal grey
frames and how much each pixel normally varies. A pixel far from it is foreground. Live, the
median follows slow changes of light on the pixels that are background.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from svdgan.errors import UserError

MIN_DIFF = 15.0  # grey levels: a pixel nearer the background than this is background, however still it is
SPREADS = 4.0  # ... and so is one within this many of its normal spreads
ADAPT = 0.25  # grey levels per frame the median moves towards a background pixel's value, live
FIT_FRAMES = 200  # normal frames, evenly spread over the footage, whose median is the background


class Background:
    def __init__(self, median: np.ndarray, spread: np.ndarray):
        self.median = median.astype(np.float32)  # (h, w) grey levels
        self.spread = spread.astype(np.float32)  # (h, w)
        self.threshold = np.maximum(MIN_DIFF, SPREADS * self.spread)

    @classmethod
    def fit(cls, greys: list[np.ndarray]) -> Background:
        """Normal grey videos, each (N, h, w) uint8 of one camera -> its background."""
        if not greys or len({g.shape[1:] for g in greys}) != 1:
            raise UserError("the background is fitted on normal videos of one frame size")
        frames = np.concatenate([g for g in greys])
        if len(frames) < 8:
            raise UserError("the background needs at least 8 normal frames")
        sample = frames[np.linspace(0, len(frames) - 1, min(FIT_FRAMES, len(frames))).astype(int)].astype(np.float32)
        median = np.median(sample, 0)
        spread = 1.4826 * np.median(np.abs(sample - median), 0)  # a robust standard deviation
        return cls(median, spread)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.median.shape)

    def foreground(self, grey: np.ndarray) -> np.ndarray:
        """(h, w) uint8 grey frame -> (h, w) bool, True where it differs from the empty scene."""
        return np.abs(grey.astype(np.float32) - self.median) > self.threshold

    def adapt(self, grey: np.ndarray, foreground: np.ndarray) -> None:
        """Move the median a little towards the frame where the frame is background."""
        step = np.clip(grey.astype(np.float32) - self.median, -ADAPT, ADAPT)
        self.median += np.where(foreground, 0.0, step)

    def copy(self) -> Background:
        return Background(self.median.copy(), self.spread)

    def to_payload(self) -> dict[str, Any]:
        return {"median": torch.from_numpy(np.round(self.median).astype(np.uint8)),
                "spread": torch.from_numpy(self.spread.astype(np.float16))}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Background:
        try:
            median, spread = payload["median"].numpy(), payload["spread"].float().numpy()
        except (KeyError, AttributeError, TypeError):
            raise UserError("the checkpoint's background is malformed") from None
        if median.ndim != 2 or median.shape != spread.shape:
            raise UserError("the checkpoint's background is malformed")
        return cls(median, spread)

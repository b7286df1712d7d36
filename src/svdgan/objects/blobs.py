"""Objects in one frame: the connected regions of its foreground, with the optical flow inside each.

A region's box and mask say where it is and how large; the flow inside its mask says how it
moves: its mean flow, its typical and its fastest speed, and a histogram of the directions it
moves in, each direction weighted by its speed (as AI-VAD's velocity features).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DIRECTIONS = 8  # bins of the flow-direction histogram
MIN_SIDE = 1 / 40  # of the frame's height: a region smaller than this squared is noise
_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


@dataclass
class Blob:
    box: tuple[int, int, int, int]  # x, y, w, h in the frame it was found in
    area: int  # foreground pixels
    centre: tuple[float, float]  # x, y of its pixels' mean
    motion: np.ndarray  # (MOTION_FEATURES,) see flow_features

    @property
    def fill(self) -> float:
        return self.area / (self.box[2] * self.box[3])


MOTION_FEATURES = 4 + DIRECTIONS


def flow_features(flow: np.ndarray) -> np.ndarray:
    """(n, 2) flow vectors of one object's pixels -> mean dx, dy, median and 90th-percentile
    speed, and the speed-weighted direction histogram (each bin: the summed speed of its pixels
    over their number, so the bins add up to the mean speed)."""
    speed = np.sqrt((flow ** 2).sum(1))
    angle = np.arctan2(flow[:, 1], flow[:, 0])
    bins = ((angle + np.pi) / (2 * np.pi) * DIRECTIONS).astype(int) % DIRECTIONS
    histogram = np.bincount(bins, weights=speed, minlength=DIRECTIONS) / len(flow)
    dx, dy = flow.mean(0)
    low, high = np.percentile(speed, [50, 90])
    return np.concatenate([[dx, dy, low, high], histogram]).astype(np.float32)


def clean(foreground: np.ndarray) -> np.ndarray:
    """Foreground mask -> uint8 mask with single-pixel noise removed and small holes closed."""
    mask = cv2.morphologyEx(foreground.astype(np.uint8), cv2.MORPH_OPEN, _KERNEL)
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _KERNEL)


def find_blobs(foreground: np.ndarray, flow: np.ndarray) -> list[Blob]:
    """(h, w) bool foreground and (h, w, 2) flow of one frame -> its objects, largest first."""
    mask = clean(foreground)
    n, labels, stats, centres = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_area = (MIN_SIDE * foreground.shape[0]) ** 2
    blobs = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < min_area:
            continue
        inside = labels[y:y + h, x:x + w] == i
        vectors = flow[y:y + h, x:x + w][inside]
        blobs.append(Blob((x, y, w, h), area, (float(centres[i][0]), float(centres[i][1])), flow_features(vectors)))
    return sorted(blobs, key=lambda b: -b.area)

"""Objects in one frame: the connected regions of its foreground, with the optical flow inside each.

A region's box and mask say where it is and how large; the flow inside its mask says how it
moves: its mean flow, its typical and its fastest speed, and a histogram of the directions it
moves in, each direction weighted by its speed (as AI-VAD's velocity features). Its look: the
histogram of oriented gradients of its grey crop and the coarse shape of its mask (no learnt
features: nothing pretrained can be downloaded here).
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
    look: np.ndarray  # (LOOK_FEATURES,) see look_features

    @property
    def fill(self) -> float:
        return self.area / (self.box[2] * self.box[3])


MOTION_FEATURES = 4 + DIRECTIONS
CROP = 32  # px: an object's crop is resized to CROP x CROP for its look
SHAPE = 4  # its mask, coarsened to SHAPE x SHAPE
ORIENTATIONS = 9  # bins of unsigned gradient orientation
CELLS = 2  # the crop's gradient histogram is taken over CELLS x CELLS cells
LOOK_FEATURES = CELLS * CELLS * ORIENTATIONS + SHAPE * SHAPE


def gradient_histogram(crop: np.ndarray) -> np.ndarray:
    """(CROP, CROP) grey crop -> per cell, its gradients' magnitude per orientation (HOG-like),
    the whole vector scaled to unit length so light and contrast do not count."""
    gx = cv2.Sobel(crop, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(crop, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.sqrt(gx ** 2 + gy ** 2)
    # bins centred on 0, pi/9, ...: an edge at 0 and one at pi (the same, unsigned) share a bin
    bins = np.floor(np.mod(np.arctan2(gy, gx), np.pi) / np.pi * ORIENTATIONS + 0.5).astype(int) % ORIENTATIONS
    side = CROP // CELLS
    cell = (np.arange(CROP)[:, None] // side) * CELLS + np.arange(CROP)[None, :] // side
    histogram = np.bincount((cell * ORIENTATIONS + bins).ravel(), weights=magnitude.ravel(),
                            minlength=CELLS * CELLS * ORIENTATIONS)
    return histogram / max(float(np.linalg.norm(histogram)), 1e-6)


def look_features(grey: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """(h, w) grey crop of an object's box and its (h, w) bool mask -> gradient histogram and shape."""
    crop = cv2.resize(grey, (CROP, CROP), interpolation=cv2.INTER_AREA).astype(np.float32)
    shape = cv2.resize(inside.astype(np.float32), (SHAPE, SHAPE), interpolation=cv2.INTER_AREA)
    return np.concatenate([gradient_histogram(crop), shape.ravel()]).astype(np.float32)


def flow_features(flow: np.ndarray) -> np.ndarray:
    """(n, 2) flow vectors of one object's pixels -> mean dx, dy, median and 90th-percentile
    speed, and the speed-weighted direction histogram (each bin: the summed speed of its pixels
    over their number, so the bins add up to the mean speed)."""
    speed = np.sqrt((flow ** 2).sum(1))
    angle = np.arctan2(flow[:, 1], flow[:, 0])
    # bins centred on the axes and diagonals, so motion along an axis stays in one bin
    bins = np.floor((angle + np.pi) / (2 * np.pi) * DIRECTIONS + 0.5).astype(int) % DIRECTIONS
    histogram = np.bincount(bins, weights=speed, minlength=DIRECTIONS) / len(flow)
    dx, dy = flow.mean(0)
    low, high = np.percentile(speed, [50, 90])
    return np.concatenate([[dx, dy, low, high], histogram]).astype(np.float32)


def clean(foreground: np.ndarray) -> np.ndarray:
    """Foreground mask -> uint8 mask with single-pixel noise removed and small holes closed."""
    mask = cv2.morphologyEx(foreground.astype(np.uint8), cv2.MORPH_OPEN, _KERNEL)
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _KERNEL)


def find_blobs(foreground: np.ndarray, flow: np.ndarray, grey: np.ndarray) -> list[Blob]:
    """(h, w) bool foreground, (h, w, 2) flow and (h, w) grey frame -> its objects, largest first."""
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
        blobs.append(Blob((x, y, w, h), area, (float(centres[i][0]), float(centres[i][1])), flow_features(vectors),
                          look_features(grey[y:y + h, x:x + w], inside)))
    return sorted(blobs, key=lambda b: -b.area)

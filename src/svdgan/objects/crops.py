"""Clips that follow each tracked object: its last frames cropped around where it was in each.

The generator on objects (issue 22) sees these instead of whole frames: a square around the
object, a little larger than its box now, moved to the object's centre in every earlier frame
(or, before the track began, its first centre), so it has to model the object itself and how it
moves, not the static background.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from svdgan.objects.attributes import SeenObject

MARGIN = 1.25  # a crop's side, as a multiple of the object's box's longer side now
MIN_SIDE = 12  # px at the working size: smaller boxes are cropped this large


class CropClips:
    """One stream's clips: `length` frames of size x size uint8 crops per object, newest last."""

    def __init__(self, length: int, size: int = 32):
        self.length, self.size = length, size
        self.frames: deque[np.ndarray] = deque(maxlen=length)
        self.centres: dict[int, dict[int, tuple[float, float]]] = {}  # track -> frame number -> centre
        self.count = 0  # frames pushed

    def push(self, grey: np.ndarray, objects: list[SeenObject]) -> np.ndarray | None:
        """This (h, w) uint8 frame and its objects -> (len(objects), length, size, size) uint8 clips,
        in the objects' order, or None until `length` frames have been seen."""
        self.frames.append(grey)
        now = self.count
        self.count += 1
        for o in objects:
            x, y, w, h = o.box
            self.centres.setdefault(o.track, {})[now] = (x + w / 2, y + h / 2)
        first = now - self.length + 1
        self.centres = {t: kept for t, seen in self.centres.items()
                        if (kept := {n: c for n, c in seen.items() if n >= first})}
        if len(self.frames) < self.length:
            return None
        clips = np.zeros((len(objects), self.length, self.size, self.size), np.uint8)
        for i, o in enumerate(objects):
            side = max(MIN_SIDE, round(MARGIN * max(o.box[2], o.box[3])))
            seen = self.centres[o.track]
            centre = seen[min(seen)]  # before the track began: where it was first seen
            for j, frame in enumerate(self.frames):
                centre = seen.get(first + j, centre)  # a frame it was missed in: where it was last
                crop = cv2.getRectSubPix(frame, (side, side), centre)
                clips[i, j] = cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return clips

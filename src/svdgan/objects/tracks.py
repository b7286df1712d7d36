"""Short tracks: each frame's objects matched to the previous frames' by the overlap of their boxes
with where each track was heading, greedily, best overlap first.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from svdgan.objects.blobs import Blob

MIN_IOU = 0.1  # a box overlapping a track's predicted box less than this starts a new track
MAX_MISSED = 5  # frames a track is kept without a match (an object hidden for a moment)
HISTORY = 5  # frames over which a track's velocity is measured


@dataclass
class Track:
    id: int
    blob: Blob
    centres: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    missed: int = 0
    age: int = 1  # frames it was matched in

    @property
    def velocity(self) -> tuple[float, float]:
        """Its centre's displacement per frame over its last frames (0, 0 when new)."""
        if len(self.centres) < 2:
            return 0.0, 0.0
        (x0, y0), (x1, y1) = self.centres[0], self.centres[-1]
        n = len(self.centres) - 1
        return (x1 - x0) / n, (y1 - y0) / n

    def predicted_box(self) -> tuple[float, float, float, float]:
        x, y, w, h = self.blob.box
        vx, vy = self.velocity
        steps = self.missed + 1
        return x + vx * steps, y + vy * steps, w, h


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


class Tracker:
    def __init__(self) -> None:
        self.tracks: list[Track] = []
        self.next_id = 1

    def update(self, blobs: list[Blob]) -> list[Track]:
        """This frame's objects -> their tracks, in the same order (new objects start new tracks)."""
        overlaps = np.array([[iou(t.predicted_box(), b.box) for b in blobs] for t in self.tracks]).reshape(
            len(self.tracks), len(blobs))
        matched: dict[int, Track] = {}
        used: set[int] = set()
        for flat in np.argsort(-overlaps, axis=None):
            ti, bi = divmod(int(flat), len(blobs))
            if overlaps[ti, bi] < MIN_IOU:
                break
            if ti in used or bi in matched:
                continue
            used.add(ti)
            track = self.tracks[ti]
            track.blob, track.missed, track.age = blobs[bi], 0, track.age + 1
            track.centres.append(blobs[bi].centre)
            matched[bi] = track
        for ti, track in enumerate(self.tracks):
            if ti not in used:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= MAX_MISSED]
        for bi, blob in enumerate(blobs):
            if bi not in matched:
                track = Track(self.next_id, blob)
                track.centres.append(blob.centre)
                self.next_id += 1
                self.tracks.append(track)
                matched[bi] = track
        return [matched[bi] for bi in range(len(blobs))]

"""One stream's objects, a frame at a time: foreground against its background, regions, tracks."""

from __future__ import annotations

import numpy as np

from svdgan.objects.attributes import SeenObject, describe
from svdgan.objects.background import Background
from svdgan.objects.blobs import find_blobs
from svdgan.objects.tracks import Tracker


class ObjectFinder:
    def __init__(self, background: Background, adapt: bool = True):
        self.background = background.copy()  # each stream adapts its own copy
        self.tracker = Tracker()
        self.adapt = adapt

    def push(self, grey: np.ndarray, flow: np.ndarray) -> list[SeenObject]:
        """(h, w) grey frame at the background's size and its (h, w, 2) flow -> its objects."""
        foreground = self.background.foreground(grey)
        tracks = self.tracker.update(find_blobs(foreground, flow, grey))
        if self.adapt:
            self.background.adapt(grey, foreground)
        return [describe(t, grey.shape[0]) for t in tracks]

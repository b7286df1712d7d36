"""Each tracked object's attributes, in groups that the memory of normality compares separately:

    place   where it is (its centre, in frame heights)
    size    how large it is there: its box's height and width (log, in frame heights) and how much
            of the box it fills (perspective: the memory compares it with objects near that place)
    motion  how it moves there: the flow inside its mask (mean, speeds, direction histogram) and
            its track's velocity, in frame heights per frame
    look    what it looks like: gradient histogram of its crop and the coarse shape of its mask
    error   with a generator on objects (objects/appearance.py): the log error of its newest crop
            reconstructed from the last clip of crops that follow it (set after `describe`)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from svdgan.objects.blobs import LOOK_FEATURES, MOTION_FEATURES
from svdgan.objects.tracks import Track

GROUPS = ("place", "size", "motion", "look", "error")
DESCRIBED = GROUPS[:4]  # what `describe` gives every object; `error` needs the generator on objects
WIDTHS = {"place": 2, "size": 3, "motion": MOTION_FEATURES + 2, "look": LOOK_FEATURES, "error": 1}


@dataclass
class SeenObject:
    """One object in one frame, as the memory sees it."""

    track: int
    box: tuple[int, int, int, int]  # x, y, w, h at the working size
    place: np.ndarray  # (2,) centre x, y in frame heights
    attributes: dict[str, np.ndarray]  # group -> (WIDTHS[group],)


def describe(track: Track, height: int) -> SeenObject:
    """A track's current object, in a frame `height` px high."""
    blob = track.blob
    x, y, w, h = blob.box
    place = np.array(blob.centre, np.float32) / height
    size = np.array([np.log(h / height), np.log(w / height), blob.fill], np.float32)
    motion = np.concatenate([blob.motion / height, np.array(track.velocity, np.float32) / height]).astype(np.float32)
    return SeenObject(track.id, blob.box, place, {"place": place, "size": size, "motion": motion,
                                                        "look": blob.look})

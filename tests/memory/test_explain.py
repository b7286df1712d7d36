"""Why a frame is unusual: the worst cell's motion against the nearest normal motion there."""

import numpy as np
import pytest

from svdgan.memory.bank import MotionMemory
from svdgan.memory.explain import PlaceMotion, cell_box, motion_reason
from svdgan.memory.fitting import fit_memory

from .test_motion import SMALL, moving_square

WALKING = np.array([1.5, 0.0, 1.5, 2.0, 1.0])  # mean dx, dy, mean and maximum speed, 2 x moving share
WALKERS = PlaceMotion.of(np.stack([WALKING * [s, 1, s, s, 1] for s in np.linspace(0.8, 1.2, 50)] +
                                  [np.zeros(5)] * 50))  # walkers to the right, and stillness


@pytest.mark.parametrize("cell, place, reason", [
    (WALKING * [3, 1, 3, 3, 1], WALKERS, "fast for this place"),
    (WALKING, PlaceMotion.of(np.zeros((10, 5))), "moving where nothing moves"),
    (WALKING * [-1, 1, 1, 1, 1], WALKERS, "unusual direction for this place"),
    (WALKING * [1, 1, 1, 1, 2], WALKERS, "unusual motion for this place"),
])
def test_each_kind_of_unusual_motion_is_named(cell, place, reason):
    assert motion_reason(cell, place) == reason


def test_a_cell_box_lands_on_the_frame_as_read():
    # a 4 x 6 grid of 8 px cells at 32 px high; the frame as read is 64 px high
    assert cell_box(7, (4, 6), 8, 32, (64, 96, 3)) == (16, 16, 16, 16)
    assert cell_box(23, (4, 6), 8, 32, (64, 90, 3)) == (80, 48, 10, 16)  # clipped at the edge


def test_a_stream_says_where_and_why_its_worst_cell_is_unusual():
    memory, _ = fit_memory([moving_square(30, 2, 16, seed=s) for s in range(2)], SMALL, smooth=1)
    assert isinstance(memory, MotionMemory)
    stream = memory.stream(1)
    fast = moving_square(6, 7, 16, seed=5)  # the same square, faster, on the same row
    for grey in fast:
        stream.push(np.repeat(grey[:, :, None], 3, 2))
    x, y, w, h = stream.why.box
    assert stream.why.reason == "fast for this place" and 8 <= y <= 24 and w == h == 8

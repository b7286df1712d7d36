"""Clips that follow a tracked object, on a tiny scene of a moving square."""

import numpy as np

from svdgan.objects.attributes import SeenObject
from svdgan.objects.crops import CropClips

H, W, GROUND, DARK = 48, 64, 100, 20


def frame_with_square(x: int, y: int, side: int) -> np.ndarray:
    grey = np.full((H, W), GROUND, np.uint8)
    grey[y:y + side, x:x + side] = DARK
    return grey


def seen(track: int, box: tuple[int, int, int, int]) -> SeenObject:
    return SeenObject(track, box, np.zeros(2, np.float32), {})


def test_each_crop_follows_the_object_so_it_stays_centred_in_every_frame():
    clips = CropClips(length=4, size=16)
    out = None
    for n in range(6):
        x = 4 + 6 * n  # 6 px a frame: a crop that did not follow would lose the square
        out = clips.push(frame_with_square(x, 10, 10), [seen(1, (x, 10, 10, 10))])
        assert (out is None) == (n < 3)
    assert out.shape == (1, 4, 16, 16) and out.dtype == np.uint8
    for crop in out[0]:
        assert crop[8, 8] < 40, "the object is at the centre of every frame's crop"
        assert crop[0, 0] > 60 and crop[-1, -1] > 60, "with background around it (crop 1.25 x the box)"


def test_before_its_track_began_an_object_is_cropped_where_it_was_first_seen():
    clips = CropClips(length=3, size=16)
    clips.push(frame_with_square(0, 0, 1), [])
    clips.push(frame_with_square(0, 0, 1), [])
    out = clips.push(frame_with_square(30, 20, 12), [seen(7, (30, 20, 12, 12))])
    assert out.shape == (1, 3, 16, 16)
    assert out[0, 0, 8, 8] > 80 and out[0, 1, 8, 8] > 80, "the place was empty before it came"
    assert out[0, 2, 8, 8] < 40


def test_no_objects_give_an_empty_batch_and_old_tracks_are_forgotten():
    clips = CropClips(length=2, size=8)
    clips.push(frame_with_square(5, 5, 8), [seen(1, (5, 5, 8, 8))])
    assert clips.push(frame_with_square(5, 5, 8), []).shape == (0, 2, 8, 8)
    clips.push(frame_with_square(5, 5, 8), [])
    assert clips.centres == {}, "a track not seen within the clip's length is dropped"

"""Objects found by background subtraction and tracked, on tiny scenes of moving squares."""

import io

import cv2
import numpy as np
import pytest
import torch

from svdgan.errors import UserError
from svdgan.objects.background import Background
from svdgan.objects.blobs import DIRECTIONS, find_blobs, flow_features
from svdgan.objects.finder import ObjectFinder
from svdgan.objects.tracks import Tracker

H, W = 48, 64
GROUND = 100


def empty(rng: np.random.Generator) -> np.ndarray:
    return np.clip(GROUND + rng.normal(0, 2, (H, W)), 0, 255).astype(np.uint8)


def scene(squares: list[tuple[float, float, float, float]], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Grey frame with dark squares (x, y, side, vx) and the flow that moved them here."""
    grey, flow = empty(rng), np.zeros((H, W, 2), np.float32)
    for x, y, side, vx in squares:
        x0, y0 = max(int(x), 0), max(int(y), 0)
        x1, y1 = min(int(x + side), W), min(int(y + side), H)
        if x1 > x0 and y1 > y0:
            grey[y0:y1, x0:x1] = 20
            flow[y0:y1, x0:x1, 0] = vx
    return grey, flow


@pytest.fixture
def background() -> Background:
    rng = np.random.default_rng(0)
    return Background.fit([np.stack([empty(rng) for _ in range(20)])])


def test_an_empty_scene_has_no_objects(background):
    rng, finder = np.random.default_rng(1), ObjectFinder(background)
    assert all(finder.push(*scene([], rng)) == [] for _ in range(10))


def test_an_object_entering_and_leaving_is_one_track(background):
    rng, finder = np.random.default_rng(2), ObjectFinder(background)
    seen = []
    for t in range(30):
        seen.append(finder.push(*scene([(-8 + 3 * t, 20, 8, 3.0)], rng)))
    visible = [frame for frame in seen if frame]
    assert [len(f) for f in visible] == [1] * len(visible) and 18 <= len(visible) <= 25
    assert len({f[0].track for f in visible}) == 1
    assert seen[-1] == []  # it has left
    inside = visible[len(visible) // 2][0]
    assert inside.box[2:] == (8, 8)
    assert inside.attributes["motion"][0] == pytest.approx(3 / H, rel=1e-3)  # mean dx, in frame heights
    assert visible[0][0].box[2] < 8  # entering: only part of it is in the frame


def test_two_objects_crossing_keep_their_tracks(background):
    rng, finder = np.random.default_rng(3), ObjectFinder(background)
    ids_by_direction: dict[str, set[int]] = {"right": set(), "left": set()}
    for t in range(16):
        frame = finder.push(*scene([(2 + 3 * t, 10, 8, 3.0), (54 - 3 * t, 16, 8, -3.0)], rng))
        if len(frame) == 2:  # apart (overlapping, they are one region for a moment)
            for o in frame:
                ids_by_direction["right" if o.attributes["motion"][0] > 0 else "left"].add(o.track)
    assert len(ids_by_direction["right"]) == 1 and len(ids_by_direction["left"]) == 1
    assert ids_by_direction["right"] != ids_by_direction["left"]


def test_the_tracker_measures_velocity_and_starts_new_tracks():
    tracker = Tracker()
    rng = np.random.default_rng(4)
    background = Background.fit([np.stack([empty(rng) for _ in range(10)])])
    for t in range(6):
        grey, flow = scene([(10 + 2 * t, 10, 10, 2.0)], rng)
        tracks = tracker.update(find_blobs(background.foreground(grey), flow, grey))
    assert tracks[0].velocity[0] == pytest.approx(2.0, abs=0.3) and tracks[0].age == 6
    grey, flow = scene([(10, 30, 10, 0.0), (22, 10, 10, 2.0)], rng)
    ids = [t.id for t in tracker.update(find_blobs(background.foreground(grey), flow, grey))]
    assert len(set(ids)) == 2 and tracks[0].id in ids


def test_flow_features_summarise_speed_and_direction():
    vectors = np.tile([[2.0, 0.0]], (50, 1)).astype(np.float32)
    features = flow_features(vectors)
    dx, dy, median, p90, histogram = features[0], features[1], features[2], features[3], features[4:]
    assert (dx, dy, median, p90) == pytest.approx((2, 0, 2, 2))
    assert len(histogram) == DIRECTIONS and histogram.sum() == pytest.approx(2) and (histogram > 0).sum() == 1


def test_noise_and_specks_are_not_objects(background):
    rng = np.random.default_rng(5)
    grey, flow = scene([], rng)
    grey[5, 5] = 0  # one dead pixel
    assert find_blobs(background.foreground(grey), flow, grey) == []


def test_the_background_follows_slow_light_changes_and_survives_a_checkpoint(background):
    brighter = np.full((H, W), GROUND + 30, np.uint8)
    assert background.foreground(brighter).all()
    adapted = background.copy()
    for _ in range(200):
        adapted.adapt(brighter, np.zeros((H, W), bool))
    assert not adapted.foreground(brighter).any() and background.foreground(brighter).all()
    buffer = io.BytesIO()
    torch.save(adapted.to_payload(), buffer)
    buffer.seek(0)
    loaded = Background.from_payload(torch.load(buffer, weights_only=True))
    assert np.abs(loaded.median - adapted.median).max() <= 0.5


def test_a_background_needs_normal_frames_of_one_size():
    with pytest.raises(UserError, match="at least 8"):
        Background.fit([np.zeros((3, H, W), np.uint8)])
    with pytest.raises(UserError, match="one frame size"):
        Background.fit([np.zeros((10, H, W), np.uint8), np.zeros((10, H, W + 2), np.uint8)])


def test_the_look_tells_a_wheel_from_a_walker_and_ignores_contrast():
    from svdgan.objects.blobs import look_features

    bar = np.full((24, 12), 200, np.uint8)
    bar[:, 4:8] = 40  # upright, like a walker: vertical edges
    ring = np.full((24, 24), 200, np.uint8)
    cv2.circle(ring, (12, 12), 9, 40, 2)  # a wheel: edges of every orientation
    walker, wheel = look_features(bar, bar < 100), look_features(ring, ring < 100)
    faint = look_features((bar // 2 + 60).astype(np.uint8), bar < 100)
    assert np.linalg.norm(walker - faint) < 0.05 < np.linalg.norm(walker - wheel)


def test_motion_along_an_axis_stays_in_one_direction_bin_whatever_the_noise():
    rng = np.random.default_rng(6)
    vectors = np.stack([np.full(200, 2.0), rng.normal(0, 0.05, 200)], 1).astype(np.float32)
    assert (flow_features(vectors)[4:] > 0).sum() == 1

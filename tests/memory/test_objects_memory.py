"""The memory of normal objects: distances per attribute group, near the same place."""

import io

import numpy as np
import pytest
import torch

from svdgan.errors import UserError
from svdgan.memory.objects import ObjectMemory, fit_object_memory, frame_scores
from svdgan.objects.attributes import DESCRIBED, WIDTHS, SeenObject


def seen(x: float, y: float, height: float = 0.2, speed: float = 0.01, track: int = 1) -> SeenObject:
    place = np.array([x, y], np.float32)
    size = np.array([np.log(height), np.log(height / 2), 0.6], np.float32)
    motion = np.zeros(WIDTHS["motion"], np.float32)
    motion[[0, 2, 3]] = speed
    look = np.zeros(WIDTHS["look"], np.float32)
    return SeenObject(track, (0, 0, 1, 1), place, {"place": place, "size": size, "motion": motion, "look": look})


def walkers(video: int, frames: int = 20) -> list[list[SeenObject]]:
    """Normal footage: walkers of one size and speed along the row y = 0.5, with a little jitter."""
    rng = np.random.default_rng(video)
    return [[seen(rng.uniform(0.1, 1.2), 0.5 + rng.normal(0, 0.01), 0.2 * rng.uniform(0.95, 1.05),
                  0.01 * rng.uniform(0.9, 1.1))] for _ in range(frames)]


@pytest.fixture
def memory() -> ObjectMemory:
    return fit_object_memory([walkers(v) for v in range(3)])[0]


@pytest.mark.parametrize("odd, group", [(seen(0.6, 0.5, height=0.5), "size"), (seen(0.6, 0.5, speed=0.06), "motion"),
                                        (seen(0.6, 0.1), "place")])
def test_each_group_sees_what_it_describes(memory, odd, group):
    normal = seen(0.6, 0.5)
    z = {g: memory.standardised([normal, odd], g) for g in DESCRIBED}
    assert z[group][1] > z[group][0] + 3
    assert z["place"][0] < 3  # the normal walker is where walkers are


def test_a_frame_scores_as_its_worst_object_and_an_empty_frame_as_normal(memory):
    score, worst = memory.frame_score([seen(0.6, 0.5), seen(0.4, 0.5, speed=0.08)], DESCRIBED)
    assert worst == 1 and score > memory.frame_score([seen(0.6, 0.5)], DESCRIBED)[0]
    empty, none = memory.frame_score([], DESCRIBED)
    assert none is None and empty < score


def test_normal_statistics_come_from_videos_scored_without_themselves():
    videos = [walkers(v) for v in range(3)]
    memory, held_out = fit_object_memory(videos)
    assert [len(v) for v in held_out] == [20, 20, 20] and len(memory) == 60
    scores = np.concatenate([frame_scores(memory, v, DESCRIBED) for v in held_out])
    assert abs(scores.mean()) < 3 * len(DESCRIBED) and memory.stats["size"]["mean"] > 0  # not distance 0 to itself
    single, held = fit_object_memory([videos[0]])  # one video: its quarters against the rest
    assert len(held[0]) == 20 and np.isfinite(single.stats["motion"]["mean"])


def test_footage_with_nothing_moving_is_refused_in_one_line():
    with pytest.raises(UserError, match="no moving objects"):
        fit_object_memory([[[] for _ in range(10)], [[] for _ in range(10)]])


def test_the_memory_survives_a_checkpoint(memory):
    buffer = io.BytesIO()
    torch.save(memory.to_payload(), buffer)
    buffer.seek(0)
    loaded = ObjectMemory.from_payload(torch.load(buffer, weights_only=True))
    probe = [seen(0.6, 0.5, height=0.4)]
    for g in DESCRIBED:
        assert loaded.standardised(probe, g) == pytest.approx(memory.standardised(probe, g), rel=1e-4)
    with pytest.raises(UserError, match="malformed"):
        ObjectMemory.from_payload({"places": torch.zeros(3, 2)})

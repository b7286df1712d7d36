"""The look of what moves, per cell (memory/look.py): in the memory beside the cells' motion."""

import numpy as np
import pytest
import torch

from svdgan.config import MemoryConfig, load_config
from svdgan.errors import UserError
from svdgan.memory.bank import LOOK_REASON, MotionMemory, video_looks
from svdgan.memory.fitting import fit_memory
from svdgan.memory.look import N_LOOK, ORIENTATIONS, LookMemory, cell_looks

from ..conftest import TINY

LOOK = MemoryConfig(enabled=True, height=48, cell=8, look=True)


def striped(n: int, vertical: bool, speed: int = 2, row: int = 16, seed: int = 0) -> np.ndarray:
    """(n, 48, 64) grey frames of one background with noise: an 8 px square moving right, of vertical
    stripes or (another look, the same motion) a checkerboard."""
    background = np.random.default_rng(0).integers(80, 120, (48, 64)).astype(np.uint8)  # one camera: one background
    noise = np.random.default_rng(seed).integers(-1, 2, (n, 48, 64))
    columns = np.arange(8) % 4 < 2
    pattern = np.broadcast_to(columns[None, :], (8, 8)) if vertical else columns[None, :] ^ columns[:, None]
    square = np.where(pattern, 220, 40).astype(np.uint8)
    frames = (background[None] + noise).astype(np.uint8)
    for t in range(n):
        x = (2 + t * speed) % 54
        frames[t, row:row + 8, x:x + 8] = square
    return frames


def test_a_cells_look_is_its_gradients_orientations_at_unit_length():
    grey = np.zeros((16, 16), np.uint8)
    grey[:, 8:] = 200  # one vertical edge: gradients along x, orientation 0
    looks = cell_looks(grey, 16)
    assert looks.shape == (N_LOOK, 1, 1)
    assert float(looks.norm()) == pytest.approx(1.0, abs=1e-5)
    by_orientation = looks[:, 0, 0].reshape(4, ORIENTATIONS).sum(0)
    assert int(by_orientation.argmax()) == 0 and by_orientation[0] > 0.9 * by_orientation.sum()
    assert float(cell_looks(np.zeros((16, 16), np.uint8), 16).abs().max()) == 0.0  # no edges: no look


def test_a_look_over_the_moving_pixels_leaves_the_still_background_out():
    grey = np.zeros((16, 32), np.uint8)
    grey[:, 8:] = 200  # the left cell holds a vertical edge
    grey[8:, 16:] = 60  # the right cell a horizontal one
    moving = np.zeros((16, 32), bool)
    moving[:, :16] = True  # only the left cell moves
    looks = cell_looks(grey, 16, moving)
    assert torch.allclose(looks[:, 0, 0], cell_looks(grey, 16)[:, 0, 0])  # all of it moves: its whole look
    assert float(looks[:, 0, 1].abs().max()) == 0.0  # nothing of it moves: no look
    moving[:, 16:24] = True  # part of the right cell moves: its look is of that part only
    assert not torch.allclose(cell_looks(grey, 16, moving)[:, 0, 1], cell_looks(grey, 16)[:, 0, 1])


def test_only_the_look_tells_an_object_of_another_look_moving_as_normal_ones_do():
    normal = [striped(30, vertical=True, seed=s) for s in range(3)]
    memory, normal_scores = fit_memory(normal, LOOK, smooth=1)
    assert memory.parts == ["cells", "look"] and set(memory.stats) == {"cells", "look"}
    assert [len(s) for s in normal_scores] == [30, 30, 30]
    looks = video_looks(striped(20, vertical=False, seed=7), 8)
    assert looks.shape == (20, N_LOOK, 6, 8)
    same, other = striped(20, vertical=True, seed=7), striped(20, vertical=False, seed=7)
    look_of = {}  # per frame, the look distance of the cell the square covers most
    for name, video in (("same", same), ("other", other)):
        moving = _moving(memory, video)
        distances = memory.look.cell_distances(video_looks(video, 8), moving)  # (G, N)
        look_of[name] = distances[moving.flatten(1).argmax(1).numpy(), np.arange(len(video))]
    assert look_of["other"][2:].mean() > 3 * look_of["same"][2:].mean()
    motion_only = MotionMemory(memory.bank, MemoryConfig(enabled=True, height=48, cell=8), memory.frame_size)
    cells_same, cells_other = (motion_only.video_scores(v, 1)[2:] for v in (same, other))
    assert cells_other.mean() < 2 * cells_same.mean() + 0.1  # the motion is the same: the cells cannot tell
    assert memory.video_scores(other, 1)[2:].mean() > memory.video_scores(same, 1)[2:].mean() + 1


def _moving(memory: MotionMemory, video: np.ndarray) -> torch.Tensor:
    from svdgan.memory.bank import video_motion
    from svdgan.memory.flow import moving_share

    return moving_share(video_motion(video, memory.config.cell)[0])


def test_still_cells_and_places_where_nothing_moved_have_no_look_score():
    looks = torch.rand(4, N_LOOK, 2, 3)
    moving = torch.zeros(4, 2, 3)
    moving[:, 0, 0] = 0.5  # only the top-left cell ever moves in the normal footage
    memory = LookMemory.fit(looks, moving)
    assert len(memory.looks) == 4 and set(memory.positions.tolist()) == {0}
    test = torch.rand(1, N_LOOK, 2, 3)
    everywhere = torch.ones(1, 2, 3)
    distances = memory.cell_distances(test, everywhere)[:, 0]
    assert distances[0] > 0 and distances[1] > 0 and distances[3] > 0  # at and next to the place that moved
    assert distances[2] == 0 and distances[5] == 0  # two cells away: no normal look to compare with
    assert memory.cell_distances(test, torch.zeros(1, 2, 3)).max() == 0  # nothing moves: nothing to score
    again = LookMemory.from_payload(memory.to_payload())
    np.testing.assert_allclose(again.cell_distances(test, everywhere), distances[:, None], atol=2e-3)
    with pytest.raises(UserError, match="malformed"):
        LookMemory.from_payload({"looks": torch.zeros(3, 5), "positions": torch.zeros(3), "grid": [2, 3],
                                 "gate": 0.0})


def test_a_stream_gives_the_video_scores_says_why_and_the_payload_keeps_the_look():
    memory, _ = fit_memory([striped(30, vertical=True, seed=s) for s in range(2)], LOOK, smooth=1)
    memory.stats["motion"] = {"mean": 0.0, "std": 1.0}
    video = striped(16, vertical=False, seed=4)
    stream = memory.stream(smooth=3)
    live = [stream.push(np.repeat(f[:, :, None], 3, 2)) for f in video]
    np.testing.assert_allclose(live, memory.video_scores(video, 3), rtol=1e-5, atol=1e-5)
    why = stream.why
    assert why.reason == LOOK_REASON
    x, y, w, h = why.box
    last = (2 + 15 * 2) % 54  # where the square is in the last frame
    assert y <= 16 < y + h and x < last + 8 and last < x + w  # a cell the square covers
    again = MotionMemory.from_payload(memory.to_payload(), MemoryConfig(enabled=True))
    assert again.config.look and again.parts == ["cells", "look"]
    np.testing.assert_allclose(again.video_scores(video, 3), memory.video_scores(video, 3), rtol=1e-2, atol=1e-2)
    look_alone = MotionMemory(memory.bank, MemoryConfig(enabled=True, height=48, cell=8, motion=False, look=True),
                              memory.frame_size, memory.stats, look=memory.look)
    assert look_alone.parts == ["look"]
    stream = look_alone.stream(smooth=1)
    assert [stream.push(np.repeat(f[:, :, None], 3, 2)) for f in video[:3]] == pytest.approx(
        list(look_alone.video_scores(video[:3], 1)), abs=1e-6)


def test_a_memory_that_scores_nothing_is_refused():
    with pytest.raises(UserError, match="memory.motion: false needs"):
        load_config(TINY, ["memory.enabled=true", "memory.motion=false"])
    assert load_config(TINY, ["memory.enabled=true", "memory.motion=false", "memory.look=true"]).memory.look


def test_the_look_and_its_gate_are_chosen_on_the_synthetic_scene(capsys):
    from research.cell_look import FUSIONS, GATES, main, paired, synthetic_scene
    from svdgan.data.synth import SynthConfig

    scene = SynthConfig(width=64, height=48, train_videos=2, test_videos=2, frames=30, seed=1)
    config = MemoryConfig(enabled=True, height=48, cell=8)
    rows = synthetic_scene(scene, config, ("looks",))
    fused = {f"cells+look (gate {g}, {how})" for g in GATES for how in FUSIONS if how != "sum"}
    assert set(rows) == {"cells", *(f"{part} (gate {g})" for g in GATES for part in ("look", "cells+look")), *fused}
    assert all(0 <= auc <= 1 for auc in rows.values())
    both = synthetic_scene(scene, config, ("looks", "looks_moving"))  # --moving-pixels: the same, and its rows
    assert {k: v for k, v in both.items() if "moving pixels" not in k} == rows
    assert len(both) == 2 * len(rows) - 1 and "cells+look (gate 0.25, moving pixels, max)" in both
    difference = paired([0.9, 0.8, 0.7], [0.8, 0.8, 0.8])
    assert difference["mean"] == pytest.approx(0.0) and difference["low"] < -0.1 < 0.1 < difference["high"]
    capsys.readouterr()
    assert main(["--seeds", "0"]) == 2
    assert capsys.readouterr().err.strip() == "svdgan: error: --seeds must be at least 1"


def test_a_recipe_with_the_look_trains_evaluates_and_detects_alike(synthetic_dataset, tmp_path, capsys):
    from ..memory.test_motion import detect_scores_as_evaluate, run

    out = tmp_path / "run"
    settings = ["memory.enabled=true", "memory.height=32", "memory.cell=8", "memory.look=true",
                "score.generator=false"]
    assert run(["train", "--data", synthetic_dataset, "--out", out, "--config", TINY, "--quiet",
                *[a for s in settings for a in ("--set", s)]], capsys)[0] == 0
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    assert set(payload["motion"]["stats"]) >= {"cells", "look", "motion"} and payload["motion"]["look"]["gate"] == 0
    metrics = detect_scores_as_evaluate(out / "checkpoint.pt", synthetic_dataset, tmp_path, capsys)
    assert 0 <= metrics["micro_auc"] <= 1

"""The memory of normal objects as an option beside the cells (`memory.objects`): fitted from the
same flow, stored in the checkpoint, scored live, and named in a frame's explanation."""

import numpy as np
import pytest

from svdgan.config import MemoryConfig
from svdgan.errors import UserError
from svdgan.memory.bank import MotionMemory
from svdgan.memory.fitting import fit_memory

from ..conftest import write_frame_folder
from .test_motion import detect_scores_as_evaluate, run

OBJECTS = MemoryConfig(enabled=True, height=48, cell=8, objects=("size",))
BACKGROUND = np.random.default_rng(0).integers(90, 110, (48, 64)).astype(np.uint8)


def squares(n: int, side: int = 8, speed: int = 2, row: int = 16, seed: int = 0, start: int = 2) -> np.ndarray:
    """(n, 48, 64) grey frames of one scene: a textured square of `side` px moving right on `row`."""
    texture = np.random.default_rng(seed).integers(170, 255, (side, side)).astype(np.uint8)
    frames = np.repeat(BACKGROUND[None], n, 0)
    for t in range(n):
        x = start + t * speed
        if x + side <= 64:
            frames[t, row:row + side, x:x + side] = texture
    return frames


def rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[:, :, None], 3, 2)


@pytest.fixture(scope="module")
def fitted():
    return fit_memory([squares(28, seed=s, row=14 + s) for s in range(3)], OBJECTS, smooth=1)


def test_the_object_part_is_fitted_beside_the_cells_and_names_a_large_object(fitted):
    memory, normal = fitted
    assert memory.objects is not None and memory.objects.groups == ("size",) and len(memory.objects.memory) > 20
    assert set(memory.stats) == {"cells", "objects"} and len(normal) == 3
    stream = memory.stream(1)
    scores = [stream.push(rgb(g)) for g in squares(14, side=16, row=10, seed=7)]  # twice the side, same speed
    assert max(scores) > np.concatenate(normal).max()
    assert stream.why.reason == "large for this place"
    x, y, w, h = stream.why.box
    assert 12 <= w <= 20 and 12 <= h <= 20 and 6 <= y <= 14  # the square's own box, not a cell


def test_the_object_part_survives_the_checkpoint_and_scores_as_the_stream_does(fitted):
    memory, _ = fitted
    again = MotionMemory.from_payload(memory.to_payload(), MemoryConfig(enabled=True))
    assert again.objects.groups == ("size",) and again.config.objects == ("size",)
    video = squares(14, side=16, row=10, seed=7)
    offline = again.video_scores(video, 1)
    stream = memory.stream(1)
    np.testing.assert_allclose(offline, [stream.push(rgb(g)) for g in video], rtol=1e-5, atol=1e-5)
    payload = memory.to_payload()
    payload["objects"]["groups"] = ["colour"]
    with pytest.raises(UserError, match="unknown attribute groups"):
        MotionMemory.from_payload(payload, MemoryConfig(enabled=True))


def test_normal_footage_with_nothing_moving_cannot_fit_an_object_memory():
    with pytest.raises(UserError, match="no moving objects"):
        fit_memory([np.repeat(BACKGROUND[None], 12, 0)] * 2, OBJECTS, smooth=1)


def test_svdgan_train_with_objects_on_a_still_camera_and_a_too_short_calibration_say_so_in_one_line(
        tmp_path, capsys):
    still = [rgb(g) for g in np.repeat(BACKGROUND[None], 12, 0)]
    for v in ("01", "02"):
        write_frame_folder(tmp_path / "still" / "training" / "frames" / v, still, ext="png")
    settings = ["memory.enabled=true", "memory.height=48", "memory.cell=8", "score.generator=false",
                "memory.objects=[size,look]"]
    code, _, err = run(["train", "--data", tmp_path / "still", "--out", tmp_path / "run", "--quiet",
                        *[a for s in settings for a in ("--set", s)]], capsys)
    assert code == 2 and err.strip() == "svdgan: error: no moving objects in the normal footage: the object memory " \
                                        "needs some"
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    write_frame_folder(tmp_path / "short" / "training" / "frames" / "01", [rgb(g) for g in squares(5)], ext="png")
    code, _, err = run(["train", "--data", tmp_path / "short", "--out", tmp_path / "run2", "--quiet",
                        *[a for s in settings for a in ("--set", s)]], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "at least 8 normal frames" in err


def test_a_model_with_objects_trains_evaluates_and_detects_with_the_same_scores(synthetic_dataset, tmp_path, capsys):

    import torch

    settings = ["memory.enabled=true", "memory.height=32", "memory.cell=8", "score.generator=false",
                "memory.objects=[size,look]"]
    out = tmp_path / "run"
    assert run(["train", "--data", synthetic_dataset, "--out", out, "--quiet",
                *[a for s in settings for a in ("--set", s)]], capsys)[0] == 0
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    assert payload["motion"]["objects"]["groups"] == ["size", "look"]
    assert {"cells", "objects", "motion"} <= set(payload["motion"]["stats"])
    assert detect_scores_as_evaluate(out / "checkpoint.pt", synthetic_dataset, tmp_path, capsys)["micro_auc"] > 0.5


def test_an_object_in_an_ignored_region_is_not_scored(fitted):
    import torch

    memory, _ = fitted
    keep = torch.ones(6, 8)
    keep[1:4] = 0  # rows 8 to 32 px of the 48: where the large square passes
    stream = memory.stream(1)
    stream.set_ignore(keep)
    for g in squares(14, side=16, row=10, seed=7):
        stream.push(rgb(g))
        assert stream.why is None or stream.why.reason != "large for this place"

"""The SVD-GAN on what moves as an option (`memory.objects: [..., error]`): each object's error from
the generator on objects' clips, fitted beside the other groups, stored in the checkpoint, scored
live as offline, kept by calibration, and named in a frame's explanation."""


import numpy as np
import pytest
import torch

from svdgan.config import MemoryConfig, load_config
from svdgan.errors import UserError
from svdgan.memory.bank import MotionMemory
from svdgan.memory.fitting import fit_memory
from svdgan.model.generator import Generator
from svdgan.objects.appearance import LENGTH, ObjectGenerator, normal_clips, object_generator_config

from ..memory.test_motion import detect_scores_as_evaluate, run
from ..memory.test_object_part import BACKGROUND, rgb

ERROR = MemoryConfig(enabled=True, height=48, cell=8, objects=("error",))


def grey_output_generator() -> ObjectGenerator:
    """A generator whose every output is mid-grey (its last convolution zeroed): an object's error is
    then how far its crop lies from mid-grey, which tells a bright object from a dim one."""
    config = object_generator_config(MemoryConfig())
    generator = Generator(config.model)
    for p in generator.decoder.out.parameters():
        torch.nn.init.zeros_(p)
    return ObjectGenerator(generator, config)


def square(n: int, low: int, high: int, seed: int = 0, row: int = 16) -> np.ndarray:
    """(n, 48, 64) grey frames: an 8 px textured square of grey levels in [low, high) moving right."""
    texture = np.random.default_rng(seed).integers(low, high, (8, 8)).astype(np.uint8)
    frames = np.repeat(BACKGROUND[None], n, 0)
    for t in range(n):
        x = 2 + 2 * t
        frames[t, row:row + 8, x:x + 8] = texture
    return frames


@pytest.fixture(scope="module")
def fitted():
    generator = grey_output_generator()
    normal = [square(26, 120, 150, seed=s, row=14 + s) for s in range(3)]
    return fit_memory(normal, ERROR, smooth=1, fit_generator=lambda clips: generator)


def test_only_the_error_group_sees_an_object_of_normal_size_and_speed_but_another_look(fitted):
    memory, normal = fitted
    assert memory.objects.groups == ("error",) and memory.objects.generator is not None
    assert np.isfinite(memory.objects.generator.fill)
    stream = memory.stream(1)
    scores = [stream.push(rgb(g)) for g in square(20, 240, 256, seed=9, row=15)]  # bright, same size and speed
    assert max(scores[10:]) > np.concatenate(normal).max() + 1
    assert stream.why.reason == "unusual to the generator on objects"
    dim = memory.stream(1)
    assert max(dim.push(rgb(g)) for g in square(20, 120, 150, seed=8, row=15)) < max(scores[10:])


def test_before_a_stream_has_a_full_clip_its_objects_get_the_normal_median_error(fitted):
    memory, _ = fitted
    generator = memory.objects.generator
    stream = generator.stream()
    from svdgan.objects.attributes import SeenObject

    first = [SeenObject(1, (10, 10, 8, 8), np.array([0.3, 0.3], np.float32), {})]
    stream.push(square(1, 240, 256)[0], first)
    assert first[0].attributes["error"][0] == pytest.approx(generator.fill)
    clips = normal_clips([square(9, 120, 150)], [[first] * 9])
    assert clips.shape == (3, 7, 32, 32) and clips.dtype == np.uint8


def test_the_generator_on_objects_survives_the_checkpoint_and_scores_offline_as_live(fitted):
    memory, _ = fitted
    again = MotionMemory.from_payload(memory.to_payload(), MemoryConfig(enabled=True))
    assert again.objects.generator is not None and again.config.objects == ("error",)
    video = square(16, 240, 256, seed=9, row=15)
    clips = np.stack([video[:7, 8:40, 8:40]] * 2)
    np.testing.assert_array_equal(again.objects.generator.log_errors(clips), memory.objects.generator.log_errors(clips))
    stream = again.stream(1)
    np.testing.assert_allclose(again.video_scores(video, 1), [stream.push(rgb(g)) for g in video],
                               rtol=1e-5, atol=1e-5)
    payload = memory.to_payload()
    del payload["objects"]["generator"]
    with pytest.raises(UserError, match="needs the generator on objects"):
        MotionMemory.from_payload(payload, MemoryConfig(enabled=True))


def test_the_error_group_without_a_generator_or_on_still_footage_is_refused_in_one_line():
    with pytest.raises(UserError, match="train one with `svdgan train`"):
        fit_memory([square(12, 120, 150)] * 2, ERROR, smooth=1)
    with pytest.raises(UserError, match="no moving objects"):
        fit_memory([np.repeat(BACKGROUND[None], 12, 0)] * 2, ERROR, smooth=1,
                   fit_generator=lambda clips: grey_output_generator())


def test_svdgan_train_fits_the_generator_on_objects_resumably_and_calibrate_keeps_it(
        synthetic_dataset, tmp_path, capsys):
    settings = ["memory.enabled=true", "memory.height=32", "memory.cell=8", "score.generator=false",
                "memory.objects=[size,error]", "memory.object_steps=2", "memory.object_batch=2"]
    out = tmp_path / "run"
    assert run(["train", "--data", synthetic_dataset, "--out", out, "--quiet",
                *[a for s in settings for a in ("--set", s)]], capsys)[0] == 0
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    objects = payload["motion"]["objects"]
    assert objects["groups"] == ["size", "error"] and "weights" in objects["generator"]
    assert torch.load(out / "objects_generator.pt", weights_only=True)["step"] == 2  # what a rerun resumes from
    detect_scores_as_evaluate(out / "checkpoint.pt", synthetic_dataset, tmp_path, capsys)
    calibrated = tmp_path / "calibrated.pt"
    assert run(["calibrate", "--checkpoint", out / "checkpoint.pt", "--data", synthetic_dataset, "--out",
                calibrated, "--quiet"], capsys)[0] == 0
    kept = torch.load(calibrated, weights_only=True)["motion"]["objects"]["generator"]["weights"]
    assert all(torch.equal(kept[k], objects["generator"]["weights"][k]) for k in kept)


def test_the_object_generators_svd_loss_is_a_setting_of_its_own():
    assert object_generator_config(MemoryConfig()).loss.svd == 1.0  # the paper's, by default
    assert object_generator_config(MemoryConfig(object_svd=0.0)).loss.svd == 0.0
    with pytest.raises(UserError, match="object_svd"):
        load_config(None, ["memory.object_svd=-1"])


def test_the_generator_on_objects_resumes_a_checkpoint_of_an_older_version_but_not_of_another_config(tmp_path):
    from svdgan.model.checkpoint import load_checkpoint, save_checkpoint
    from svdgan.training.objects import train_object_generator

    clips = np.random.default_rng(0).integers(0, 255, (8, LENGTH, 32, 32)).astype(np.uint8)
    config = object_generator_config(MemoryConfig(object_steps=2, object_batch=2))
    checkpoint = tmp_path / "objects_generator.pt"
    train_object_generator(clips, config, checkpoint)
    payload = load_checkpoint(checkpoint)
    assert payload["step"] == 2
    # as written before memory.look existed, and interrupted after its first step: it resumes
    del payload["config"]["memory"]["look"]
    save_checkpoint(checkpoint, {**payload, "step": 1})
    train_object_generator(clips, config, checkpoint)
    assert load_checkpoint(checkpoint)["step"] == 2
    with pytest.raises(UserError, match="another config"):
        train_object_generator(clips, object_generator_config(MemoryConfig(object_steps=2, object_batch=2,
                                                                           object_svd=0.0)), checkpoint)

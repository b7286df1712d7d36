"""Teaching a model that footage is normal: the Python API, the Detector and `svdgan teach` share it."""

import json
import subprocess
import sys

import numpy as np
import pytest

import svdgan
from svdgan.config import load_config
from svdgan.sources.files import image_files, read_image


def video(dataset, name):
    return [read_image(f) for f in image_files(dataset / "testing" / "frames" / name)]


def events(scores, threshold=1.0):
    tracker = svdgan.EventTracker("v", threshold)

    class Scored:  # the EventTracker reads a ScoredFrame's frame, time, score and why
        def __init__(self, t, s):
            self.frame, self.time, self.score, self.why, self.anomalous = t, float(t), s, None, False

    found = [c.event for t, s in enumerate(scores) for c in tracker.update(Scored(t, s)) if c.kind == "end"]
    return found + [c.event for c in tracker.finish()]


@pytest.fixture(scope="module")
def memory_model(tmp_path_factory, synthetic_dataset):
    return svdgan.train(synthetic_dataset, tmp_path_factory.mktemp("teach") / "run", progress=False)


def test_learn_silences_taught_footage_undo_brings_it_back(memory_model, synthetic_dataset, tmp_path):
    model = svdgan.load(memory_model)
    frames = video(synthetic_dataset, "01")
    normal = [read_image(f) for f in image_files(next((synthetic_dataset / "training" / "frames").iterdir()))]
    before = model.score(frames)
    assert events(before)

    model.learn(normal)  # more normal footage does not teach away an anomaly
    with_normal = model.score(frames)
    assert events(with_normal)
    model.learn(frames)  # "this is normal"
    taught = model.score(frames)
    assert not events(taught) and taught.max() < 1.0
    assert model.memory.size()["taught_frames"] == len(normal) + len(frames)

    saved = model.save(tmp_path / "taught.pt")
    np.testing.assert_allclose(svdgan.load(saved).score(frames), taught, rtol=1e-6, atol=1e-6)  # kept on disk

    model.undo()
    np.testing.assert_allclose(model.score(frames), with_normal, rtol=1e-6, atol=1e-6)
    model.undo()
    np.testing.assert_allclose(model.score(frames), before, rtol=1e-6, atol=1e-6)
    with pytest.raises(svdgan.UserError, match="nothing to undo"):
        model.undo()


def test_a_live_source_is_taught_from_its_next_frame(memory_model, synthetic_dataset):
    from svdgan.sources.video import Frame

    frames = video(synthetic_dataset, "01")
    detector = svdgan.Detector.load(memory_model)
    stream = detector.open("cam")
    half = len(frames) // 2
    first = [detector.score([(stream, Frame(t, t, f))])[0].raw for t, f in enumerate(frames[:half])]
    detector.teach(frames)
    rest = [detector.score([(stream, Frame(t, t, f))])[0].raw for t, f in enumerate(frames[half:], half)]
    fresh = svdgan.load(memory_model).score(frames, normalize_with="none")
    np.testing.assert_allclose(first, fresh[:half], rtol=1e-6)  # before teaching: as untaught
    assert max(rest[5:]) < 0.01 * fresh[half + 5:].max()  # after: the taught motion is (all but) at distance 0


def test_taught_frames_are_capped_oldest_teaching_first(tmp_path, synthetic_dataset):
    config = load_config(None, ["memory.max_taught=30"])
    path = svdgan.train(synthetic_dataset, tmp_path / "run", config, progress=False)
    model = svdgan.load(path)
    first, second = video(synthetic_dataset, "01"), video(synthetic_dataset, "02")
    model.learn(first)
    model.learn(second)
    size = model.memory.size()
    assert len(first) + len(second) > 30 and len(second) <= 30
    assert size["teachings"] == 1 and size["taught_frames"] == len(second)  # the first teaching left
    model.learn(first + second)  # longer than the cap alone: its newest frames stay
    assert model.memory.size()["taught_frames"] == 30 and model.memory.size()["teachings"] == 1
    with pytest.raises(svdgan.UserError, match="at least 2"):
        model.learn(first[:1])
    with pytest.raises(svdgan.UserError, match="aspect"):
        model.learn([np.zeros((240, 240, 3), np.uint8)] * 3)


def test_svdgan_teach_then_undo_on_the_command_line(memory_model, synthetic_dataset, tmp_path):
    clip = synthetic_dataset / "testing" / "frames" / "01"

    def svdgan_cli(*args):
        return subprocess.run([sys.executable, "-m", "svdgan", *map(str, args)], capture_output=True, text=True)

    def detect_events(checkpoint):
        out = tmp_path / f"{checkpoint.stem}.jsonl"
        done = svdgan_cli("detect", clip, "--checkpoint", checkpoint, "--events", out)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in out.read_text().splitlines()]

    taught, back = tmp_path / "taught.pt", tmp_path / "back.pt"
    done = svdgan_cli("teach", memory_model, "--normal", clip, "--out", taught)
    n = len(image_files(clip))
    assert done.returncode == 0 and f"1 teaching(s), {n} taught frames" in done.stdout, done.stderr
    assert detect_events(memory_model) and not detect_events(taught)
    assert svdgan_cli("teach", taught, "--undo", "--out", back).returncode == 0
    assert detect_events(back) == detect_events(memory_model)
    refused = svdgan_cli("teach", memory_model, "--out", back)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "nothing to teach" in refused.stderr


def test_teaching_one_source_leaves_the_others(memory_model, synthetic_dataset):
    from svdgan.sources.video import Frame

    frames = video(synthetic_dataset, "01")
    detector = svdgan.Detector.load(memory_model)
    taught, other = detector.open("door"), detector.open("hall")
    detector.teach(frames, stream=taught)
    raws = {s: [] for s in (taught, other)}
    for t, image in enumerate(frames):
        for scored, s in zip(detector.score([(taught, Frame(t, t, image)), (other, Frame(t, t, image))]),
                             (taught, other)):
            raws[s].append(scored.raw)
    untaught = svdgan.load(memory_model).score(frames, normalize_with="none")
    np.testing.assert_allclose(raws[other], untaught, rtol=1e-6)
    assert max(raws[taught]) < 0.01 * untaught.max() and detector.memory.size()["teachings"] == 0
    detector.undo(stream=taught)
    with pytest.raises(svdgan.UserError, match="nothing to undo"):
        detector.undo(stream=taught)

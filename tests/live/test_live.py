"""One path: `svdgan evaluate`, `svdgan detect`, `Model.stream` and `svdgan serve` score the same frames
alike through the Detector, and detect and serve raise the same events through the EventTracker."""

import csv
import json

import numpy as np
import pytest

import svdgan
from svdgan.cli import main
from svdgan.errors import UserError
from svdgan.scoring.detector import Detector
from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.engine import Engine
from svdgan.serve.store import EventStore
from svdgan.sources.open import open_source

from ..conftest import write_frame_folder
from ..serve.test_serve import scene

MEMORY = ["memory.height=32", "memory.cell=8"]


@pytest.fixture(scope="module")
def memory_model(tmp_path_factory):
    """The shipped recipe fitted on a tiny camera's normal footage, and a folder of frames in which a
    bright square crosses twice."""
    root = tmp_path_factory.mktemp("live")
    for v in range(3):
        write_frame_folder(root / "normal" / f"{v:02d}", scene(30, seed=10 + v), ext="png")
    assert main(["train", "--data", str(root / "normal"), "--out", str(root / "run"), "--quiet",
                 *[a for m in MEMORY for a in ("--set", m)]]) == 0
    clip = scene(60, 8, 18)[:30] + scene(30, 5, 20, seed=3)
    write_frame_folder(root / "clip", clip, ext="png")
    return root / "run" / "checkpoint.pt", root / "clip"


def served(checkpoint, clip, tmp_path, **camera):
    storage = tmp_path / "storage"
    config = ServeConfig([CameraConfig("cam", str(clip), checkpoint=str(checkpoint), **camera)], storage=str(storage))
    engine = Engine(config, EventStore(storage), sources={"cam": open_source(str(clip))})
    engine.start()
    engine.join(60)
    engine.stop()
    return engine


def test_evaluate_detect_model_stream_and_serve_give_the_same_scores(memory_model, tmp_path, capsys):
    checkpoint, clip = memory_model
    assert main(["detect", str(clip), "--checkpoint", str(checkpoint), "--scores", str(tmp_path / "s.csv")]) == 0
    with open(tmp_path / "s.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["frame"]) for r in rows] == list(range(60))
    detected = [float(r["score"]) for r in rows]
    streamed = [r.score for r in svdgan.load(checkpoint).stream(str(clip))]
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(clip), "--out", str(tmp_path / "report"),
                 "--quiet"]) == 0
    with open(tmp_path / "report" / "scores.csv") as f:
        evaluated = [float(r["score"]) for r in csv.DictReader(f)]
    engine = served(checkpoint, clip, tmp_path)
    in_serve = [score for _, score in engine.cameras["cam"].scores]
    np.testing.assert_allclose(detected, streamed, rtol=1e-7, atol=1e-7)  # (both files keep 8 significant digits)
    np.testing.assert_allclose(evaluated, streamed, rtol=1e-7, atol=1e-7)
    assert in_serve == streamed
    assert max(streamed[8:18]) > 2 * max(streamed[:6])  # the square is seen: these are real scores


def test_detect_and_serve_raise_the_same_events_on_the_same_video(memory_model, tmp_path, capsys):
    checkpoint, clip = memory_model
    events = tmp_path / "events.jsonl"
    assert main(["detect", str(clip), "--checkpoint", str(checkpoint), "--events", str(events),
                 "--min-frames", "2", "--end-frames", "3"]) == 0
    detected = [json.loads(line) for line in events.read_text().splitlines()]
    assert len(detected) >= 2  # both crossings
    assert all({"source", "start_frame", "end_frame", "peak_frame", "peak_score", "reason"} <= set(e) for e in detected)
    engine = served(checkpoint, clip, tmp_path, min_frames=2, end_frames=3)
    rows = sorted(engine.store.list(), key=lambda e: e.start_frame)
    assert [(e.start_frame, e.end_frame, e.peak_frame) for e in rows] == [
        (e["start_frame"], e["end_frame"], e["peak_frame"]) for e in detected]
    np.testing.assert_allclose([e.peak_score for e in rows], [e["peak_score"] for e in detected], atol=1e-6)
    assert [e.why["reason"] for e in rows] == [e["reason"] for e in detected]


def test_a_model_without_statistics_is_refused_by_every_live_path_with_one_rule(memory_model):
    checkpoint, _ = memory_model
    detector = Detector.load(checkpoint)
    detector.stats = None
    with pytest.raises(UserError, match="no normal-score statistics: finish training or run svdgan calibrate"):
        detector.open("cam")
    assert detector.open("cam", stats={"mean": 0.0, "std": 1.0, "min": 0.0, "max": 1.0}) == 0


def test_a_generators_options_given_to_the_memory_alone_are_refused(memory_model, capsys):
    checkpoint, clip = memory_model
    for option in (["--mode", "fast"], ["--precision", "bf16"], ["--backend", "onnxruntime"]):
        assert main(["detect", str(clip), "--checkpoint", str(checkpoint), *option]) == 2
        assert "a generator's options" in capsys.readouterr().err

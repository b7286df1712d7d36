"""The one live pipeline: `svdgan detect`, `Model.stream` and `svdgan serve` score the same frames alike."""

import json

import numpy as np
import pytest

import svdgan
from svdgan.cli import main
from svdgan.errors import UserError
from svdgan.live.pipeline import LiveModel, LivePipeline
from svdgan.scoring.stream import StreamScorer
from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.engine import Engine
from svdgan.serve.events import EventStore
from svdgan.sources.video import open_source

from ..conftest import TINY, write_frame_folder
from ..serve.test_serve import scene

MEMORY = ["memory.enabled=true", "memory.height=32", "memory.cell=8"]


@pytest.fixture(scope="module")
def memory_model(tmp_path_factory, synthetic_dataset):
    """A tiny model with a memory of normal motion, and a folder of frames with a bright square crossing."""
    root = tmp_path_factory.mktemp("live")
    assert main(["train", "--data", str(synthetic_dataset), "--out", str(root / "run"), "--config", str(TINY),
                 "--quiet", *[a for m in MEMORY for a in ("--set", m)]]) == 0
    write_frame_folder(root / "clip", scene(24, 8, 18), ext="png")
    return root / "run" / "checkpoint.pt", root / "clip"


def test_detect_model_stream_and_serve_give_identical_scores(memory_model, tmp_path, capsys):
    checkpoint, clip = memory_model
    assert LiveModel.load(checkpoint).memory is not None  # the fused path is the one compared
    assert main(["detect", str(clip), "--checkpoint", str(checkpoint), "--events", str(tmp_path / "e.jsonl")]) == 0
    detected = [json.loads(line)["score"] for line in (tmp_path / "e.jsonl").read_text().splitlines()]

    streamed = [r.score for r in svdgan.load(checkpoint).stream(str(clip))]

    storage = tmp_path / "storage"
    config = ServeConfig([CameraConfig("cam", str(clip), checkpoint=str(checkpoint))], storage=str(storage),
                         mode="exact")
    engine = Engine(config, EventStore(storage), sources={"cam": open_source(str(clip))})
    engine.start()
    engine.join(60)
    engine.stop()
    served = [score for _, score in engine.cameras["cam"].scores]

    assert len(detected) == len(streamed) == len(served) == 24
    # the same up to float32 rounding: each model load times equal conv forms and keeps the fastest
    np.testing.assert_allclose(streamed, served, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(detected, streamed, rtol=1e-5, atol=1e-5)  # (detect's events round to 6 places)
    assert max(streamed[8:18]) > max(streamed[:8])  # the square is seen: these are real scores


def test_a_model_without_statistics_is_refused_by_every_live_path_with_one_rule(memory_model, tmp_path):
    checkpoint, _ = memory_model
    model = LiveModel.load(checkpoint)
    model.stats = None
    pipeline = LivePipeline(model, StreamScorer(model.generator, model.config))
    with pytest.raises(UserError, match="no normal-score statistics: finish training or run svdgan calibrate"):
        pipeline.add_source("cam")
    assert pipeline.add_source("cam", stats={"mean": 0.0, "std": 1.0, "p50": 0.0, "max": 1.0}) == 0

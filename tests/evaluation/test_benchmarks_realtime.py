"""`svdgan benchmark` on a tiny model: every figure the issue names is there and consistent."""

import json

import pytest

from svdgan.cli import main
from svdgan.config import Config
from svdgan.evaluation.speed import best_segment_fps, stream_flops
from svdgan.model.generator import Generator
from svdgan.scoring.stream import StreamScorer


def test_benchmark_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "realtime.json"
    assert main(["benchmark", "--size", "16", "--frames", "8", "--memory-frames", "40", "--streams", "3",
                 "--precision", "bf16", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    for mode in ("windowed", "windowed_batch1", "windowed_naive", "exact", "fast"):
        assert r[f"{mode}_fps"] > 0 and set(r["latency_ms"][mode]) == {"mean", "var", "p50", "p99", "max"}
        assert 0 < r["peak_fraction"][mode] and r["flops_per_frame"][mode] > 0 and r[f"{mode}_fps_bf16"] > 0
        # the fraction of peak is taken at the best segment, as the peak at its best burst; the mean's beside it
        assert r[f"{mode}_fps_best_segment"] >= r[f"{mode}_fps"]
        assert r["peak_fraction_at_mean"][mode] <= r["peak_fraction"][mode]
    # the windowed procedure decodes T frames per output frame, the streaming modes one
    assert r["flops_per_frame"]["windowed"] > 2 * r["flops_per_frame"]["exact"] > 2 * r["flops_per_frame"]["fast"]
    assert r["exact_over_windowed"] == r["exact_fps"] / r["windowed_fps"]
    assert [p["frames"] for p in r["memory"]] == [4 * i for i in range(1, 11)]
    assert r["conv_peak_flops"] > 0 and "vector_extensions" in r["hardware"] and r["hardware"]["torch_threads"] >= 1
    cap = r["capacity"]
    assert [p["streams"] for p in cap["by_streams"]] == [1, 2, 3]
    assert all(p["per_stream_fps"] * p["streams"] == pytest.approx(p["frames_per_second"]) for p in cap["by_streams"])
    assert cap["streams_at_live_fps"] == max([p["streams"] for p in cap["by_streams"] if p["per_stream_fps"] >= 10],
                                             default=0)
    # the detector's stages (the shipped model: the memory of normal motion alone), each timed
    stages = r["stages"]
    assert stages["used"] == ["grey", "flow", "cells"] and stages["frames"] == 8 and stages["objects_per_frame"] > 0
    assert all(stages["ms_per_frame"][s] > 0 for s in ("grey", "flow", "cells", "look", "background", "objects",
                                                        "object_generator", "object_memory", "generator"))
    assert stages["ms_per_frame_used"] == pytest.approx(sum(stages["ms_per_frame"][s] for s in stages["used"]))
    out = capsys.readouterr().out
    assert "exact / windowed" in out and "stage by stage" in out.splitlines()[1]


def test_best_segment_is_the_fastest_run_of_consecutive_frames():
    # four segments of two frames: the third, 2 frames in 0.1 s, is the fastest
    assert best_segment_fps([0.1, 0.1, 0.2, 0.2, 0.05, 0.05, 0.1, 0.1]) == pytest.approx(20.0)
    assert best_segment_fps([0.5]) == pytest.approx(2.0)


def test_benchmark_defaults_skip_emulated_bf16_and_the_memory_stream(tmp_path, monkeypatch):
    from svdgan.utils import precision

    monkeypatch.setattr(precision, "native_bf16", lambda device="cpu": (False, "stubbed: no native bf16"))
    out = tmp_path / "realtime.json"
    assert main(["benchmark", "--size", "16", "--frames", "8", "--streams", "0", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert "windowed_fps_bf16" not in r and "memory" not in r and "capacity" not in r and r["fast_fps"] > 0


def test_stream_flops_fast_is_one_lstm_step():
    config = Config()
    config.model.size = 32
    generator = Generator(config.model).eval()
    assert stream_flops(generator, config, "fast") < stream_flops(generator, config, "exact")
    assert StreamScorer(generator, config, "fast").mode == "fast"

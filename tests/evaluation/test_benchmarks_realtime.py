"""`svdgan benchmark`: the shipped detector timed by default, stage by stage and as streams are added;
a recipe's generator timed in its modes where it has one."""

import json

import pytest

from svdgan.cli import main
from svdgan.config import Config
from svdgan.evaluation.generator_speed import best_segment_fps, stream_flops
from svdgan.model.checkpoint import SHIPPED_WEIGHTS
from svdgan.model.generator import Generator
from svdgan.scoring.stream import StreamScorer

from ..conftest import TINY


def test_benchmark_with_no_arguments_times_the_shipped_detector(tmp_path, capsys):
    out = tmp_path / "detector.json"
    assert main(["benchmark", "--frames", "12", "--streams", "2", "--memory-frames", "20", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["detector"]["checkpoint"] == str(SHIPPED_WEIGHTS) and r["generator"] is None
    assert {"flow", "memory", "score"} <= set(r["stages_ms"]) and "generator" not in r["stages_ms"]
    assert all(ms > 0 for ms in r["stages_ms"].values()) and r["frames"] == 12
    # the stages add up to the whole frame, which is what frames/s is of
    assert sum(r["stages_ms"].values()) == pytest.approx(r["ms_per_frame"], rel=0.2)
    assert r["fps"] == pytest.approx(1000 / r["ms_per_frame"])
    assert r["frame_size"] == [240, 360]  # the synthetic camera at the size the Ped2 memory fits
    streams = r["streams"]["by_streams"]
    assert [p["streams"] for p in streams] == [1, 2]
    assert all(p["per_stream_fps"] * p["streams"] == pytest.approx(p["frames_per_second"]) for p in streams)
    assert [p["frames"] for p in r["resident_memory"]] == [2 * i for i in range(1, 11)]
    assert "vector_extensions" in r["hardware"]
    printed = capsys.readouterr().out
    assert "ped2.pt (memory of normal motion)" in printed and "flow" in printed


def test_benchmark_times_a_recipes_generator_in_every_mode(tmp_path):
    out = tmp_path / "paper.json"
    assert main(["benchmark", "--config", str(TINY), "--size", "16", "--frames", "10", "--streams", "0",
                 "--generator-frames", "8", "--precision", "bf16", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert "generator" in r["stages_ms"] and r["detector"]["recipe"] == str(TINY)
    g = r["generator"]
    for mode in ("windowed", "windowed_batch1", "windowed_naive", "exact", "fast"):
        assert g[f"{mode}_fps"] > 0 and set(g["latency_ms"][mode]) == {"mean", "var", "p50", "p99", "max"}
        assert 0 < g["peak_fraction"][mode] and g["flops_per_frame"][mode] > 0 and g[f"{mode}_fps_bf16"] > 0
        assert g[f"{mode}_fps_best_segment"] >= g[f"{mode}_fps"]
        assert g["peak_fraction_at_mean"][mode] <= g["peak_fraction"][mode]
    # the windowed procedure decodes T frames per output frame, the streaming modes one
    assert g["flops_per_frame"]["windowed"] > 2 * g["flops_per_frame"]["exact"] > 2 * g["flops_per_frame"]["fast"]
    assert g["exact_over_windowed"] == g["exact_fps"] / g["windowed_fps"]


def test_a_generators_option_given_to_a_model_without_one_is_refused(capsys):
    assert main(["benchmark", "--precision", "bf16", "--frames", "10"]) == 2
    assert "a generator's options" in capsys.readouterr().err


def test_best_segment_is_the_fastest_run_of_consecutive_frames():
    # four segments of two frames: the third, 2 frames in 0.1 s, is the fastest
    assert best_segment_fps([0.1, 0.1, 0.2, 0.2, 0.05, 0.05, 0.1, 0.1]) == pytest.approx(20.0)
    assert best_segment_fps([0.5]) == pytest.approx(2.0)


def test_stream_flops_fast_is_one_lstm_step():
    config = Config()
    config.model.size = 32
    generator = Generator(config.model).eval()
    assert stream_flops(generator, config, "fast") < stream_flops(generator, config, "exact")
    assert StreamScorer(generator, config, "fast").mode == "fast"


def test_without_native_bf16_the_generator_is_timed_in_fp32_only(tmp_path, monkeypatch):
    from svdgan.utils import precision

    monkeypatch.setattr(precision, "native_bf16", lambda device="cpu": (False, "stubbed: no native bf16"))
    out = tmp_path / "paper.json"
    assert main(["benchmark", "--config", str(TINY), "--size", "16", "--frames", "10", "--streams", "0",
                 "--generator-frames", "8", "--json", str(out)]) == 0
    g = json.loads(out.read_text())["generator"]
    assert "windowed_fps_bf16" not in g and "capacity" not in g and g["fast_fps"] > 0

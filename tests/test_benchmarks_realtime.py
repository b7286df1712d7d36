"""`svdgan benchmark` on a tiny model: every figure the issue names is there and consistent."""

import json

from svdgan.benchmarks.realtime import stream_flops
from svdgan.cli import main
from svdgan.config import Config
from svdgan.generator import Generator
from svdgan.stream import StreamScorer


def test_benchmark_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "realtime.json"
    assert main(["benchmark", "--size", "32", "--frames", "16", "--memory-frames", "40", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    for mode in ("windowed", "windowed_batch1", "windowed_naive", "exact", "fast"):
        assert r[f"{mode}_fps"] > 0 and set(r["latency_ms"][mode]) == {"mean", "var", "p50", "p99", "max"}
        assert 0 < r["peak_fraction"][mode] and r["flops_per_frame"][mode] > 0 and r[f"{mode}_fps_bf16"] > 0
    # the windowed procedure decodes T frames per output frame, the streaming modes one
    assert r["flops_per_frame"]["windowed"] > 2 * r["flops_per_frame"]["exact"] > 2 * r["flops_per_frame"]["fast"]
    assert [p["frames"] for p in r["memory"]] == [4 * i for i in range(1, 11)]
    assert "exact / windowed" in capsys.readouterr().out


def test_stream_flops_fast_is_one_lstm_step():
    config = Config()
    config.model.size = 32
    generator = Generator(config.model).eval()
    assert stream_flops(generator, config, "fast") < stream_flops(generator, config, "exact")
    assert StreamScorer(generator, config, "fast").mode == "fast"

"""`svdgan detect` end to end on tiny data: events, the annotated video, equality with evaluate."""

import csv
import json

import cv2
import numpy as np
import pytest

from svdgan.cli import main

from ..conftest import TINY, random_frames, write_video


@pytest.fixture(scope="module")
def model(tmp_path_factory, synthetic_dataset):
    out = tmp_path_factory.mktemp("detect") / "run"
    assert main(["train", "--data", str(synthetic_dataset), "--out", str(out), "--config", str(TINY), "--quiet",
                 "--set", "score.smooth=2"]) == 0
    return out / "checkpoint.pt"


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_exact_detection_equals_evaluate_and_writes_events(model, synthetic_dataset, tmp_path, capsys):
    report = tmp_path / "report"
    assert run(["evaluate", "--checkpoint", model, "--data", synthetic_dataset, "--out", report,
                "--normalize", "train", "--quiet"], capsys)[0] == 0
    with open(report / "scores.csv") as f:
        offline = [float(r["score"]) for r in csv.DictReader(f) if r["video"] == "01"]
    events = tmp_path / "events.jsonl"
    video = tmp_path / "other.avi"
    write_video(video, random_frames(7, 30, 40))
    code, _, err = run(["detect", synthetic_dataset / "testing" / "frames" / "01", video, "--checkpoint", model,
                        "--events", events, "--min-frames", 2, "--threshold", 0.5], capsys)
    assert code == 0
    records = [json.loads(line) for line in events.read_text().splitlines()]
    assert all(set(r) == {"source", "frame", "time", "score", "anomalous"} for r in records)
    folder = [r for r in records if r["source"].endswith("01")]
    other = [r for r in records if r["source"] == str(video)]
    assert [r["frame"] for r in folder] == list(range(24)) and len(other) == 7
    np.testing.assert_allclose([r["score"] for r in folder], offline, rtol=1e-5, atol=1e-5)
    # an alert needs two frames in a row above the threshold
    flags = [r["anomalous"] for r in folder]
    above = [r["score"] > 0.5 for r in folder]
    assert flags == [a and i > 0 and above[i - 1] for i, a in enumerate(above)]
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["frames"] == 31 and set(summary["latency_ms"]) == {"mean", "var", "p50", "p99", "max"}


def test_annotated_video_and_fast_mode(model, synthetic_dataset, tmp_path, capsys):
    out = tmp_path / "annotated.mp4"
    code, stdout, _ = run(["detect", synthetic_dataset / "testing" / "frames" / "02", "--checkpoint", model,
                           "--mode", "fast", "--output", out], capsys)
    assert code == 0 and len(stdout.splitlines()) == 24  # events on stdout
    capture = cv2.VideoCapture(str(out))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 24 and not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("extra,message", [
    (["missing.avi"], "source not found"),
    (["--output", "out.gif"], "--output must end in"),
    (["--min-frames", "0"], "--min-frames"),
    (["--end-frames", "0"], "--end-frames"),
])
def test_detect_bad_input(model, synthetic_dataset, tmp_path, capsys, extra, message):
    args = ["detect", synthetic_dataset / "testing" / "frames" / "01", "--checkpoint", model]
    if extra[0].endswith(".avi"):
        args = ["detect", tmp_path / extra[0], "--checkpoint", model]
    else:
        args += [str(tmp_path / e) if e.endswith(".gif") else e for e in extra]
    code, _, err = run(args, capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_evaluate_fast_mode_equals_fast_detection(model, synthetic_dataset, tmp_path, capsys):
    report = tmp_path / "report"
    assert run(["evaluate", "--checkpoint", model, "--data", synthetic_dataset, "--out", report,
                "--normalize", "train", "--mode", "fast", "--quiet"], capsys)[0] == 0
    with open(report / "scores.csv") as f:
        offline = [float(r["score"]) for r in csv.DictReader(f) if r["video"] == "02"]
    events = tmp_path / "events.jsonl"
    assert run(["detect", synthetic_dataset / "testing" / "frames" / "02", "--checkpoint", model, "--mode", "fast",
                "--events", events], capsys)[0] == 0
    streamed = [json.loads(line)["score"] for line in events.read_text().splitlines()]
    np.testing.assert_allclose(streamed, offline, rtol=1e-5, atol=1e-5)
    assert json.loads((report / "metrics.json").read_text())["mode"] == "fast"


def test_detect_and_evaluate_never_pick_emulated_bf16(model, synthetic_dataset, tmp_path, capsys, monkeypatch):
    from svdgan.live import detect as detect_module
    from svdgan.utils import precision

    monkeypatch.setattr(precision, "native_bf16", lambda device="cpu": (False, "stubbed: no native bf16"))
    chosen = []
    real = detect_module.StreamScorer
    monkeypatch.setattr(detect_module, "StreamScorer", lambda g, c, m, p: chosen.append(p) or real(g, c, m, p))
    code, _, err = run(["detect", synthetic_dataset / "testing" / "frames" / "01", "--checkpoint", model,
                        "--events", tmp_path / "e.jsonl", "--max-frames", "3"], capsys)
    assert code == 0 and chosen == ["fp32"] and "precision auto -> fp32" in err
    code, _, err = run(["evaluate", "--checkpoint", model, "--data", synthetic_dataset, "--out", tmp_path / "r",
                        "--quiet"], capsys)
    assert code == 0 and json.loads((tmp_path / "r" / "metrics.json").read_text())["precision"] == "fp32"
    assert "precision auto -> fp32" in err

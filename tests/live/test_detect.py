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


def scores_of(path):
    with open(path) as f:
        return [float(r["score"]) for r in csv.DictReader(f)]


def test_exact_detection_equals_evaluate_and_writes_events(model, synthetic_dataset, tmp_path, capsys):
    report = tmp_path / "report"
    assert run(["evaluate", "--checkpoint", model, "--data", synthetic_dataset, "--out", report, "--quiet"],
               capsys)[0] == 0
    with open(report / "scores.csv") as f:
        offline = [float(r["score"]) for r in csv.DictReader(f) if r["video"] == "01"]
    events = tmp_path / "events.jsonl"
    video = tmp_path / "other.avi"
    write_video(video, random_frames(7, 30, 40))
    code, out, err = run(["detect", synthetic_dataset / "testing" / "frames" / "01", video, "--checkpoint", model,
                          "--events", events, "--scores", tmp_path / "s.csv", "--min-frames", 2, "--threshold", 0.5],
                         capsys)
    assert code == 0 and out == ""  # events went to their file
    folder, other = scores_of(tmp_path / "s_0.csv"), scores_of(tmp_path / "s_1.csv")  # one file per source
    assert len(folder) == 24 and len(other) == 7
    # the same arithmetic in other batch shapes: float32 rounding may differ by a few units in the last place
    # (seen on an AMD EPYC: 3.7e-6 on one frame scoring 2.23)
    np.testing.assert_allclose(folder, offline, rtol=1e-5, atol=1e-6)
    records = [json.loads(line) for line in events.read_text().splitlines()]
    assert all({"source", "start_frame", "end_frame", "peak_frame", "peak_score", "reason"} <= set(r) for r in records)
    mine = [r for r in records if r["source"].endswith("01")]
    # each event: at least two frames in a row above the threshold from its start, its peak the highest of it
    for r in mine:
        assert all(s > 0.5 for s in folder[r["start_frame"]:r["start_frame"] + 2])
        assert r["peak_score"] == pytest.approx(max(folder[r["start_frame"]:r["end_frame"] + 1]), abs=1e-6)
    runs = [i for i in range(1, 24) if folder[i] > 0.5 and folder[i - 1] > 0.5]
    assert bool(mine) == bool(runs)
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["frames"] == 31 and set(summary["latency_ms"]) == {"mean", "var", "p50", "p99", "max"}
    assert sum(s["events"] for s in summary["sources"]) == len(records)


def test_annotated_video_and_fast_mode(model, synthetic_dataset, tmp_path, capsys):
    out = tmp_path / "annotated.mp4"
    code, stdout, _ = run(["detect", synthetic_dataset / "testing" / "frames" / "02", "--checkpoint", model,
                           "--mode", "fast", "--output", out, "--threshold", "0.2", "--min-frames", "1"], capsys)
    events = [json.loads(line) for line in stdout.splitlines()]  # events on stdout
    assert code == 0 and events and all(e["source"].endswith("02") for e in events)
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
                "--mode", "fast", "--quiet"], capsys)[0] == 0
    with open(report / "scores.csv") as f:
        offline = [float(r["score"]) for r in csv.DictReader(f) if r["video"] == "02"]
    assert run(["detect", synthetic_dataset / "testing" / "frames" / "02", "--checkpoint", model, "--mode", "fast",
                "--scores", tmp_path / "s.csv"], capsys)[0] == 0
    np.testing.assert_allclose(scores_of(tmp_path / "s.csv"), offline, rtol=1e-6, atol=1e-6)
    assert json.loads((report / "metrics.json").read_text())["mode"] == "fast"


def test_detect_and_evaluate_never_pick_emulated_bf16(model, synthetic_dataset, tmp_path, capsys, monkeypatch):
    from svdgan.scoring import detector as detector_module
    from svdgan.utils import precision

    monkeypatch.setattr(precision, "native_bf16", lambda device="cpu": (False, "stubbed: no native bf16"))
    chosen = []
    real = detector_module.StreamScorer
    monkeypatch.setattr(detector_module, "StreamScorer", lambda g, c, m, p: chosen.append(p) or real(g, c, m, p))
    code, _, err = run(["detect", synthetic_dataset / "testing" / "frames" / "01", "--checkpoint", model,
                        "--events", tmp_path / "e.jsonl", "--max-frames", "3"], capsys)
    assert code == 0 and chosen == ["fp32"] and "precision auto -> fp32" in err
    code, _, err = run(["evaluate", "--checkpoint", model, "--data", synthetic_dataset, "--out", tmp_path / "r"],
                       capsys)
    assert code == 0 and json.loads((tmp_path / "r" / "metrics.json").read_text())["precision"] == "auto"
    assert chosen == ["fp32", "fp32"] and "precision auto -> fp32" in err


def test_with_native_bf16_every_path_picks_it_alike(model, synthetic_dataset, tmp_path, capsys, monkeypatch):
    """One precision rule: where the CPU has bfloat16, evaluate and detect both score with it, and agree."""
    from svdgan.utils import precision

    monkeypatch.setattr(precision, "native_bf16", lambda device="cpu": (True, "stubbed: native bf16"))
    assert run(["evaluate", "--checkpoint", model, "--data", synthetic_dataset, "--out", tmp_path / "r", "--quiet"],
               capsys)[0] == 0
    with open(tmp_path / "r" / "scores.csv") as f:
        offline = [float(r["score"]) for r in csv.DictReader(f) if r["video"] == "01"]
    code, _, err = run(["detect", synthetic_dataset / "testing" / "frames" / "01", "--checkpoint", model,
                        "--scores", tmp_path / "s.csv"], capsys)
    assert code == 0 and "precision auto -> bf16" in err
    np.testing.assert_allclose(scores_of(tmp_path / "s.csv"), offline, rtol=1e-6, atol=1e-6)


def test_learn_first_scores_footage_of_another_view(synthetic_dataset, tmp_path, capsys):
    """The shipped Ped2 model on a camera of another aspect: refused with what to do, then learnt."""
    import svdgan

    folder = synthetic_dataset / "testing" / "frames" / "01"
    code, _, err = run(["detect", folder], capsys)
    assert code == 2 and err.count("\n") == 1 and "--learn 2m" in err  # says what to do, in one line
    scores = tmp_path / "s.csv"
    code, _, err = run(["detect", folder, "--learn", 10, "--scores", scores, "--events", tmp_path / "e.jsonl"],
                       capsys)
    assert code == 0 and "learnt its normal from its first 10 frames" in err
    with open(scores) as f:
        live = [(int(r["frame"]), float(r["score"])) for r in csv.DictReader(f)]
    assert live[0][0] == 10 and all(np.isfinite(s) for _, s in live)
    streamed = [(r.frame, r.score) for r in svdgan.load().stream(str(folder), learn=10)]
    np.testing.assert_allclose(np.array(streamed), np.array(live), rtol=1e-5, atol=1e-6)  # one implementation
    code, _, err = run(["detect", folder, "--learn", "2m"], capsys)
    assert code == 2 and "no frame rate" in err
    code, _, err = run(["detect", folder, "--learn", "soon"], capsys)
    assert code == 2 and "give frames" in err

"""The command line end to end on tiny data, and every bad input answered with exit status 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from svdgan.cli import main

from .conftest import TINY


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory, synthetic_dataset):
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", "--data", str(synthetic_dataset), "--out", str(out), "--config", str(TINY),
                 "--quiet"]) == 0
    return out / "checkpoint.pt"


def test_train_writes_run_folder(trained):
    run_dir = trained.parent
    assert (run_dir / "config.yaml").exists() and list((run_dir / "previews").glob("*.png"))
    log = (run_dir / "losses.csv").read_text().splitlines()
    assert log[0].startswith("step,seconds,discriminator,generator")
    assert len(log) == 1 + 3  # tiny.yaml: 6 steps, logged every 2
    payload = torch.load(trained, weights_only=True)
    assert payload["step"] == 6 and payload["score_stats"]["n"] > 0
    assert payload["config"]["model"]["size"] == 32


@pytest.mark.parametrize("normalize", ["video", "train", "none"])
def test_evaluate_writes_the_report(trained, synthetic_dataset, tmp_path, capsys, normalize):
    out = tmp_path / "report"
    code, stdout, _ = run(["evaluate", "--checkpoint", trained, "--data", synthetic_dataset, "--out", out,
                           "--normalize", normalize, "--quiet"], capsys)
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["normalize"] == normalize and metrics["n_frames"] == 3 * 24
    assert 0 <= metrics["micro_auc"] <= 1 and len(metrics["per_video"]) == 3
    rows = (out / "scores.csv").read_text().splitlines()
    assert rows[0] == "video,frame,score,label" and len(rows) == 1 + 72
    assert rows[1].startswith("01,1,")
    assert (out / "roc.png").exists() and (out / "reconstructions.png").exists()
    assert sorted(p.name for p in (out / "videos").iterdir()) == ["01.png", "02.png", "03.png"]
    # the metrics command reads the same scores back and agrees
    code, stdout, _ = run(["metrics", "--scores", out / "scores.csv", "--ground-truth",
                           synthetic_dataset / "synth.m"], capsys)
    assert code == 0 and json.loads(stdout)["micro_auc"] == pytest.approx(metrics["micro_auc"])


def test_resume_continues_and_extends_a_run(synthetic_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(["train", "--data", synthetic_dataset, "--out", out, "--config", TINY,
                "--set", "train.steps=4", "--quiet"], capsys)[0] == 0
    code, _, err = run(["train", "--data", synthetic_dataset, "--out", out, "--config", TINY, "--quiet"], capsys)
    assert code == 2 and "--resume" in err  # never overwrites a run silently
    assert run(["train", "--data", synthetic_dataset, "--out", out, "--resume", "--set", "train.steps=6",
                "--quiet"], capsys)[0] == 0
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 6
    steps = [line.split(",")[0] for line in (out / "losses.csv").read_text().splitlines()[1:]]
    assert steps == ["2", "4", "6"]
    # each session says which steps it trained, for how long and on what
    sessions = torch.load(out / "checkpoint.pt", weights_only=True)["train_sessions"]
    assert [s["steps"] for s in sessions] == [[0, 4], [4, 6]]
    assert all(s["seconds"] > 0 and s["precision"] == "fp32" and s["machine"]["processes"] == 1 for s in sessions)


def test_info_and_help(capsys):
    code, out, _ = run(["info", "--config", TINY], capsys)
    assert code == 0 and "reduction" in out and "GFLOP" in out
    for command in ["synth", "train", "evaluate", "metrics", "info", "demo"]:
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        assert "usage: svdgan " + command in capsys.readouterr().out


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "svdgan", "metrics", "--scores", "/no/such/path",
                             "--ground-truth", "/no/such.m"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "svdgan: error: scores not found: /no/such/path"


def _corrupt_frame(root: Path) -> Path:
    frame = sorted((root / "testing" / "frames" / "02").iterdir())[3]
    frame.write_bytes(b"not an image at all")
    return root


def _zero_byte_video(root: Path) -> Path:
    (root / "testing").mkdir(parents=True)
    (root / "testing" / "empty.avi").write_bytes(b"")
    (root / "training").mkdir()
    return root


BAD_EVALUATE = {
    "missing data path": lambda root, tmp: (tmp / "nowhere", None),
    "empty folder": lambda root, tmp: ((tmp / "empty").mkdir() or tmp / "empty", None),
    "corrupt frame": lambda root, tmp: (_corrupt_frame(root), None),
    "zero-byte video": lambda root, tmp: (_zero_byte_video(tmp / "vid"), None),
    "ground truth too long": lambda root, tmp: (root, _write(tmp / "long.m", "1:30\n1:5\n1:5\n")),
    "ground truth wrong video count": lambda root, tmp: (root, _write(tmp / "short.m", "1:5\n")),
    "ground truth without ranges": lambda root, tmp: (root, _write(tmp / "none.m", "hello\n")),
    "mat of the wrong structure": lambda root, tmp: (root, _mat(tmp / "bad.mat", {"gt": 3.0})),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _mat(path: Path, data: dict) -> Path:
    import scipy.io
    scipy.io.savemat(str(path), data)
    return path


def _copy(src: Path, dst: Path) -> Path:
    import shutil
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("case", list(BAD_EVALUATE))
def test_bad_evaluate_input_is_one_line_and_exit_2(case, trained, synthetic_dataset, tmp_path, capsys):
    root = _copy(synthetic_dataset, tmp_path / "data")
    data, gt = BAD_EVALUATE[case](root, tmp_path)
    out = tmp_path / "report"
    args = ["evaluate", "--checkpoint", trained, "--data", data, "--out", out, "--quiet"]
    code, _, err = run(args + (["--ground-truth", gt] if gt else []), capsys)
    assert code == 2
    assert err.startswith("svdgan: error: ") and len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing half-written


def _truncated(trained: Path, tmp: Path) -> Path:
    path = tmp / "truncated.pt"
    path.write_bytes(trained.read_bytes()[:1000])
    return path


def _code_pickle(tmp: Path) -> Path:
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("this would run",))

    path = tmp / "evil.pt"
    path.write_bytes(pickle.dumps(Evil()))
    return path


def _other_architecture(trained: Path, tmp: Path) -> Path:
    payload = torch.load(trained, weights_only=True)
    payload["config"]["model"]["conv1_channels"] = 16
    path = tmp / "other.pt"
    torch.save(payload, path)
    return path


BAD_CHECKPOINTS = {
    "missing": lambda trained, tmp: tmp / "nope.pt",
    "empty": lambda trained, tmp: _write(tmp / "empty.pt", ""),
    "truncated": _truncated,
    "code-running pickle": lambda trained, tmp: _code_pickle(tmp),
    "other architecture": _other_architecture,
    "not a checkpoint": lambda trained, tmp: (torch.save({"a": 1}, tmp / "x.pt"), tmp / "x.pt")[1],
}


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_bad_checkpoint_is_one_line_and_exit_2(case, trained, synthetic_dataset, tmp_path, capsys):
    ckpt = BAD_CHECKPOINTS[case](trained, tmp_path)
    out = tmp_path / "report"
    code, stdout, err = run(["evaluate", "--checkpoint", ckpt, "--data", synthetic_dataset, "--out", out,
                             "--quiet"], capsys)
    assert code == 2 and err.startswith("svdgan: error: ") and len(err.strip().splitlines()) == 1
    assert "this would run" not in stdout
    assert not out.exists()


@pytest.mark.parametrize("override, message", [
    ("model.nonsense=1", "unknown config key"),
    ("model.size=abc", "bad config value"),
    ("model.size=30", "multiple of 8"),
    ("train.steps=0", "at least 1"),
    ("loss.adversarial_kind=wasserstein", "adversarial_kind"),
    ("loss.contextual_kind=huber", "contextual_kind"),
    ("model.zero_init=true", "zero_init needs model.residual"),
    ("nosection", "key=value"),
])
def test_bad_config_is_one_line_and_exit_2(override, message, synthetic_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run(["train", "--data", synthetic_dataset, "--out", out, "--config", TINY,
                        "--set", override, "--quiet"], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_yaml_file_and_missing_training_data(tmp_path, synthetic_dataset, capsys):
    bad = _write(tmp_path / "bad.yaml", "model: [unclosed\n")
    code, _, err = run(["train", "--data", synthetic_dataset, "--out", tmp_path / "r", "--config", bad], capsys)
    assert code == 2 and "not valid YAML" in err
    code, _, err = run(["train", "--data", tmp_path / "missing", "--out", tmp_path / "r2"], capsys)
    assert code == 2 and "not found" in err
    code, _, err = run(["synth", tmp_path / "s", "--width", "4"], capsys)
    assert code == 2 and not (tmp_path / "s").exists()


def test_seeded_training_is_reproducible_and_resume_matches_an_uninterrupted_run(synthetic_dataset, tmp_path):
    common = ["--data", str(synthetic_dataset), "--config", str(TINY), "--quiet"]
    assert main(["train", "--out", str(tmp_path / "a"), *common]) == 0
    assert main(["train", "--out", str(tmp_path / "b"), *common, "--set", "train.steps=3"]) == 0
    assert main(["train", "--out", str(tmp_path / "b"), "--data", str(synthetic_dataset), "--resume",
                 "--set", "train.steps=6", "--quiet"]) == 0
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    for key in a["generator"]:
        torch.testing.assert_close(a["generator"][key], b["generator"][key], rtol=1e-5, atol=1e-6)


def test_evaluate_video_files_without_labels(trained, video_dataset, tmp_path, capsys):
    out = tmp_path / "report"
    code, _, _ = run(["evaluate", "--checkpoint", trained, "--data", video_dataset / "training", "--out", out,
                      "--quiet"], capsys)
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert "micro_auc" not in metrics and metrics["n_frames"] == 18
    rows = (out / "scores.csv").read_text().splitlines()
    assert rows[1] == rows[1].split(",")[0] + ",1," + rows[1].split(",")[2] + ","  # empty label
    assert not (out / "roc.png").exists() and (out / "videos" / "a.png").exists()


def test_calibrate_writes_a_scoring_model_for_other_score_options(trained, synthetic_dataset, tmp_path, capsys):
    model = tmp_path / "model.pt"
    report = tmp_path / "report"
    args = ["evaluate", "--checkpoint", trained, "--data", synthetic_dataset, "--out", report,
            "--normalize", "train", "--set", "score.patch=8", "--quiet"]
    code, _, err = run(args, capsys)  # the training statistics are for frame-mean scores
    assert code == 2 and "svdgan calibrate" in err and not report.exists()
    code, out, _ = run(["calibrate", "--checkpoint", trained, "--data", synthetic_dataset, "--out", model,
                        "--set", "score.patch=8", "--set", "score.smooth=3", "--frames", 30, "--quiet"], capsys)
    assert code == 0 and json.loads(out.splitlines()[0])["patch"] == 8
    payload = torch.load(model, weights_only=True)
    assert "discriminator" not in payload and "opt_g" not in payload
    assert payload["config"]["score"]["patch"] == 8 and payload["score_stats"]["smooth"] == 3
    code, _, _ = run(["evaluate", "--checkpoint", model, "--data", synthetic_dataset, "--out", report,
                      "--normalize", "train", "--quiet"], capsys)
    metrics = json.loads((report / "metrics.json").read_text())
    assert code == 0 and metrics["score"] == {"patch": 8, "smooth": 3, "motion": False, "generator": True}
    # a scoring model cannot be resumed, and model settings cannot change after training
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoint.pt").write_bytes(model.read_bytes())
    code, _, err = run(["train", "--data", synthetic_dataset, "--out", run_dir, "--resume"], capsys)
    assert code == 2 and "cannot be resumed" in err
    code, _, err = run(["calibrate", "--checkpoint", trained, "--data", synthetic_dataset, "--out", model,
                        "--set", "model.size=64"], capsys)
    assert code == 2 and "only score.*" in err


def test_a_predicting_model_trains_and_evaluates(synthetic_dataset, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, _ = run(["train", "--data", synthetic_dataset, "--out", out, "--config", TINY, "--quiet",
                      "--set", "model.target=predict", "--set", "train.steps=2"], capsys)
    assert code == 0
    code, stdout, _ = run(["evaluate", "--checkpoint", out / "checkpoint.pt", "--data", synthetic_dataset,
                           "--out", tmp_path / "report", "--normalize", "train", "--quiet"], capsys)
    assert code == 0 and json.loads(stdout.splitlines()[0])["n_frames"] == 3 * 24

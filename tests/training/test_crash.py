"""Training survives SIGKILL at any moment: resume continues from the last complete checkpoint."""

import signal
import subprocess
import sys
import time

import torch

from svdgan.cli import main

from ..conftest import TINY


def test_sigkill_then_resume_equals_an_uninterrupted_run(synthetic_dataset, tmp_path):
    common = ["--data", str(synthetic_dataset), "--config", str(TINY), "--quiet",
              "--set", "train.steps=60", "--set", "train.checkpoint_every=3", "--set", "train.log_every=1",
              "--set", "train.precision=fp32"]  # the killed run is a process of its own: fp32 on every machine
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "svdgan", "train", "--out", str(killed), *common])
    ckpt = killed / "checkpoint.pt"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and torch.load(ckpt, weights_only=True)["step"] >= 9:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = torch.load(ckpt, weights_only=True)["step"]  # complete, never a partial file
    assert 9 <= step < 60
    assert main(["train", "--out", str(killed), "--data", str(synthetic_dataset), "--resume", "--quiet"]) == 0
    log = (killed / "losses.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in log[1:]] == list(range(1, 61))  # no step lost or logged twice
    assert main(["train", "--out", str(tmp_path / "whole"), *common]) == 0
    a = torch.load(ckpt, weights_only=True)
    b = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 60
    for key in a["generator"]:
        torch.testing.assert_close(a["generator"][key], b["generator"][key], rtol=1e-5, atol=1e-6)
    assert not list(killed.glob(".*.tmp"))  # a temporary file from the kill is cleared on resume


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(synthetic_dataset, tmp_path, monkeypatch,
                                                                       capsys):
    import svdgan.training.step as training

    real = training.generator_losses
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        losses = real(*args, **kwargs)
        return losses._replace(total=losses.total * float("nan")) if calls["n"] == 6 else losses

    monkeypatch.setattr(training, "generator_losses", failing)
    out = tmp_path / "run"
    code = main(["train", "--data", str(synthetic_dataset), "--out", str(out), "--config", str(TINY), "--quiet",
                 "--set", "train.steps=10", "--set", "train.checkpoint_every=4"])
    err = capsys.readouterr().err
    assert code == 2 and "diverged" in err and len(err.strip().splitlines()) == 1
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    assert payload["step"] == 4 and all(torch.isfinite(v).all() for v in payload["generator"].values())


def test_atomic_writes_get_the_permissions_a_plain_open_would(tmp_path):
    import os
    import stat

    from svdgan.utils.files import atomic_write

    atomic_write(tmp_path / "atomic.json", lambda tmp: tmp.write_text("{}"))
    (tmp_path / "plain.json").write_text("{}")
    mode = stat.S_IMODE(os.stat(tmp_path / "atomic.json").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "plain.json").st_mode)  # 0644 under the usual umask

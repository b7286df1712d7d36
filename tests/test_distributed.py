"""DDP under torchrun with 2 CPU processes (gloo): rank 0 writes the run, seeded runs repeat exactly."""

import subprocess
import sys

import torch

from .conftest import TINY


def torchrun(out, data, *extra):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "svdgan", "train", "--data", str(data), "--out", str(out), "--config", str(TINY), "--quiet",
           "--set", "train.threads=1", "--set", "train.steps=4", *extra]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return torch.load(out / "checkpoint.pt", weights_only=True)


def test_two_process_training_is_sharded_logged_once_and_reproducible(synthetic_dataset, tmp_path):
    a = torchrun(tmp_path / "a", synthetic_dataset)
    b = torchrun(tmp_path / "b", synthetic_dataset)
    assert a["step"] == 4 and a["score_stats"]["n"] > 0
    for key in a["generator"]:
        torch.testing.assert_close(a["generator"][key], b["generator"][key])
    log = (tmp_path / "a" / "losses.csv").read_text().splitlines()
    assert len(log) == 1 + 2  # tiny.yaml logs every 2 steps, and only rank 0 writes
    # resuming under torchrun continues the run
    c = torchrun(tmp_path / "a", synthetic_dataset, "--resume", "--set", "train.steps=6")
    assert c["step"] == 6

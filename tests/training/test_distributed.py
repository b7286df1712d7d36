"""DDP under torchrun with 2 CPU processes (gloo): rank 0 writes the run, seeded runs repeat exactly."""

import subprocess
import sys

import torch

from ..conftest import TINY


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


def test_on_a_gpu_machine_each_process_takes_its_local_gpu_and_nccl(monkeypatch):
    """The GPU path without a GPU: what setup() asks of torch when CUDA is there (no device was
    lent to this project's CI, so NCCL itself is not exercised here)."""
    from svdgan.training import distributed

    calls = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: calls.setdefault("device", device))
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend: calls.setdefault("backend", backend))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    d = distributed.setup()
    assert d.device == torch.device("cuda", 1) == calls["device"]
    assert calls["backend"] == "nccl" and d.rank == 1 and d.world == 2 and not d.main


def test_training_models_are_channels_last(tiny_config):
    from svdgan.training.step import Models

    models = Models(tiny_config)
    weights = [p for m in (models.generator, models.discriminator) for p in m.parameters() if p.dim() == 4]
    assert weights and all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)

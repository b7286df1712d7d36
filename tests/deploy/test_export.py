"""ONNX export: onnxruntime agrees with torch, and its streaming scores equal the exact mode's."""

import copy

import numpy as np
import pytest
import torch

from svdgan.cli import main
from svdgan.data.frames import to_model_range
from svdgan.model.checkpoint import save_checkpoint
from svdgan.model.generator import Generator
from svdgan.scoring.stream import StreamScorer

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.mark.parametrize("target", ["reconstruct", "residual"])
def test_onnx_backend_matches_torch(tiny_config, tmp_path, capsys, target):
    from svdgan.deploy.onnx import OnnxStreamScorer

    config = copy.deepcopy(tiny_config)
    config.model.target = "predict" if target == "residual" else "reconstruct"
    config.model.residual = target == "residual"
    config.score.smooth = 2
    torch.manual_seed(0)
    generator = Generator(config.model).eval()
    for module in generator.modules():  # non-trivial batch-norm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    ckpt = tmp_path / "model.pt"
    save_checkpoint(ckpt, {"config": config.to_dict(), "step": 0, "score_stats": None,
                           "generator": generator.state_dict()})
    onnx_path = tmp_path / "model.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--onnx", str(onnx_path)]) == 0
    assert "max_abs_diff" in capsys.readouterr().out
    frames = to_model_range(np.random.default_rng(0).integers(
        0, 255, (10, 2, config.model.channels, config.model.size, config.model.size), dtype=np.uint8))
    torch_scorer = StreamScorer(generator, config, "exact")
    onnx_scorer = OnnxStreamScorer(onnx_path, config)
    for t in range(10):  # two streams, batched; windows grow from 1 to T frames
        expected, got = torch_scorer.push(frames[t]), onnx_scorer.push(frames[t])
        np.testing.assert_allclose(got.scores, expected.scores, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(got.recon.numpy(), expected.recon.numpy(), atol=1e-4)


def test_detect_with_the_onnxruntime_backend(tmp_path, synthetic_dataset, capsys):
    from ..conftest import TINY

    run = tmp_path / "run"
    assert main(["train", "--data", str(synthetic_dataset), "--out", str(run), "--config", str(TINY), "--quiet"]) == 0
    source = str(synthetic_dataset / "testing" / "frames" / "01")
    scores = {}
    for backend in ("torch", "onnxruntime"):
        events = tmp_path / f"{backend}.csv"
        assert main(["detect", source, "--checkpoint", str(run / "checkpoint.pt"), "--backend", backend,
                     "--scores", str(events)]) == 0
        scores[backend] = [float(line.split(",")[1]) for line in events.read_text().splitlines()[1:]]
    np.testing.assert_allclose(scores["onnxruntime"], scores["torch"], rtol=1e-4, atol=1e-5)
    code = main(["detect", source, "--checkpoint", str(run / "checkpoint.pt"), "--backend", "onnxruntime",
                 "--mode", "fast"])
    assert code == 2 and "exact mode only" in capsys.readouterr().err

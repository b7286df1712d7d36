"""The shipped model file: small, plain weights, statistics that match its score options and memory."""

import pytest
import torch

from svdgan.memory.bank import load_memory
from svdgan.model.checkpoint import SHIPPED_WEIGHTS, load_generator
from svdgan.scoring.normalise import stats_match


@pytest.mark.skipif(not SHIPPED_WEIGHTS.is_file(), reason="weights/ped2.pt not in this checkout")
def test_shipped_weights_load_safely_and_are_ready_to_score():
    assert SHIPPED_WEIGHTS.stat().st_size <= 25 * 2**20
    payload = torch.load(SHIPPED_WEIGHTS, weights_only=True)
    assert "discriminator" not in payload and "opt_g" not in payload  # a scoring model, not a training state
    generator, config, payload = load_generator(SHIPPED_WEIGHTS)
    memory = load_memory(payload, config)  # the recipe's memory of normal motion, fitted on Ped2's 360x240 frames
    assert memory is not None and memory.fits((240, 360, 3)) and not memory.fits((480, 1280, 3))
    assert stats_match(payload["score_stats"], config, motion=True) and payload["score_stats"]["n"] >= 800
    # how it was trained travels with it: in fp32, within the recipe's 3-hour CPU budget
    assert payload["precision"] == "fp32" and payload["train_seconds"] <= 3 * 3600 and payload["train_sessions"]
    frames = torch.zeros(1, config.model.clip_len, config.model.channels, config.model.size, config.model.size)
    with torch.inference_mode():
        assert generator.reconstruct(frames)[0].shape == frames.shape

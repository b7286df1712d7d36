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
    _, config, payload = load_generator(SHIPPED_WEIGHTS)
    memory = load_memory(payload, config)  # the recipe's memory of normal motion, fitted on Ped2's 360x240 frames
    assert memory is not None and memory.fits((240, 360, 3)) and not memory.fits((480, 1280, 3))
    assert stats_match(payload["score_stats"], config, motion=True) and payload["score_stats"]["n"] >= 2000
    # the recipe scores with the memory alone: the file has no generator, so none can run by mistake
    assert config.score.generator is False and "generator" not in payload
    # how it was made travels with it: on which machine, within the recipe's 3-hour CPU budget
    assert payload["train_seconds"] <= 3 * 3600 and payload["train_sessions"][0]["machine"]

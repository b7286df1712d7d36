"""The shipped model file: small, plain weights, the defaults' recipe, statistics that match its score
options and memory."""

import pytest
import torch

from svdgan.config import Config, config_from_dict
from svdgan.model.checkpoint import SHIPPED_WEIGHTS
from svdgan.scoring.detector import Detector

pytestmark = pytest.mark.skipif(not SHIPPED_WEIGHTS.is_file(), reason="weights/ped2.pt not in this checkout")


def test_shipped_weights_load_safely_and_are_ready_to_score():
    assert SHIPPED_WEIGHTS.stat().st_size <= 25 * 2**20
    payload = torch.load(SHIPPED_WEIGHTS, weights_only=True)
    assert "discriminator" not in payload and "opt_g" not in payload  # a scoring model, not a training state
    detector = Detector.load()
    memory = detector.memory  # the recipe's memory of normal motion, fitted on Ped2's 360x240 frames
    assert memory is not None and memory.fits((240, 360, 3)) and not memory.fits((480, 1280, 3))
    assert detector.stats_match() and payload["score_stats"]["n"] >= 2000
    # the recipe scores with the memory alone: the file has no generator, so none can run by mistake
    assert detector.scorer is None and "generator" not in payload
    # how it was made travels with it: on which machine, within the recipe's 3-hour CPU budget
    assert payload["train_seconds"] <= 3 * 3600 and payload["train_sessions"][0]["machine"]


def test_bare_config_is_the_shipped_recipe():
    shipped = config_from_dict(torch.load(SHIPPED_WEIGHTS, weights_only=True)["config"])
    assert Config().to_dict() == shipped.to_dict()
    assert Config().score.generator is False and Config().memory.enabled is True

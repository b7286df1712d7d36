"""The denormal mode (utils/fpmode.py): flushed around svdgan's own torch work, never left behind."""

import numpy as np
import torch

from svdgan.model.generator import Generator
from svdgan.scoring.stream import StreamScorer
from svdgan.training.step import Models, train_step
from svdgan.utils.fpmode import denormals_flushed, denormals_kept, flushed_denormals


def test_each_mode_holds_inside_and_the_one_before_comes_back():
    assert not denormals_flushed()
    with flushed_denormals():
        assert denormals_flushed()
        with denormals_kept():
            assert not denormals_flushed()
        assert denormals_flushed()
    assert not denormals_flushed()


def test_the_generator_runs_flushed_and_scoring_and_training_leave_the_mode_as_it_was(tiny_config):
    torch.manual_seed(0)
    seen = []
    generator = Generator(tiny_config.model).eval()
    for module in generator.modules():  # the scorer calls the generator's parts, not its forward
        module.register_forward_pre_hook(lambda *_: seen.append(denormals_flushed()))
    scorer = StreamScorer(generator, tiny_config, "exact")
    size, channels = tiny_config.model.size, tiny_config.model.channels
    for _ in range(tiny_config.model.clip_len + 1):
        scorer.push(torch.rand(1, channels, size, size) * 2 - 1)
    assert seen and all(seen) and not denormals_flushed()

    models = Models(tiny_config)
    clips = torch.rand(2, tiny_config.model.clip_len, channels, size, size) * 2 - 1
    losses = train_step(models, clips, tiny_config)
    assert np.isfinite(list(losses.values())).all() and not denormals_flushed()

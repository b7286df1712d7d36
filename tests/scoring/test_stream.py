"""Streaming scores: exact mode equals offline scoring; fast mode agrees while the window is short."""

import copy

import numpy as np
import pytest
import torch

from svdgan.data.frames import to_model_range
from svdgan.model.generator import Generator
from svdgan.scoring.stream import StreamScorer
from svdgan.scoring.video import score_video


def make(tiny_config, target="reconstruct", patch=0, smooth=1):
    config = copy.deepcopy(tiny_config)
    config.model.residual = target == "residual"
    config.model.target = "predict" if target == "residual" else target
    config.score.patch, config.score.smooth = patch, smooth
    torch.manual_seed(0)
    return Generator(config.model).eval(), config


def video(n, config, seed=0):
    cfg = config.model
    return np.random.default_rng(seed).integers(0, 255, (n, cfg.channels, cfg.size, cfg.size), dtype=np.uint8)


def stream_scores(scorer, frames, stream=0):
    x = to_model_range(frames)
    return np.array([scorer.push(x[t:t + 1], [stream]).scores[0] for t in range(len(x))])


@pytest.mark.parametrize("target", ["reconstruct", "predict", "residual"])
@pytest.mark.parametrize("patch,smooth", [(0, 1), (8, 3)])
def test_exact_mode_equals_offline_scores(tiny_config, target, patch, smooth):
    generator, config = make(tiny_config, target, patch, smooth)
    frames = video(13, config)
    offline = score_video(generator, frames, config).scores
    streamed = stream_scores(StreamScorer(generator, config, "exact"), frames)
    np.testing.assert_allclose(streamed, offline, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_streams_batched_together_score_as_if_alone(tiny_config, mode):
    generator, config = make(tiny_config, "predict")
    a, b = video(9, config, 1), video(6, config, 2)
    alone = [stream_scores(StreamScorer(generator, config, mode), v) for v in (a, b)]
    scorer = StreamScorer(generator, config, mode)
    together = {0: [], 1: []}
    for t in range(9):  # stream 1 joins late and ends early
        ids = [0] + ([1] if 2 <= t < 8 else [])
        x = torch.cat([to_model_range(a[t:t + 1])] + ([to_model_range(b[t - 2:t - 1])] if 1 in ids else []))
        for i, score in zip(ids, scorer.push(x, ids).scores):
            together[i].append(score)
    np.testing.assert_allclose(together[0], alone[0], rtol=1e-5)
    np.testing.assert_allclose(together[1], alone[1], rtol=1e-5)


@pytest.mark.parametrize("target", ["reconstruct", "predict"])
def test_fast_mode_is_the_window_that_starts_at_the_first_frame(tiny_config, target):
    generator, config = make(tiny_config, target)
    frames = video(12, config)
    fast = stream_scores(StreamScorer(generator, config, "fast"), frames)
    unbounded = copy.deepcopy(config)
    unbounded.model.clip_len = 100  # every window reaches back to frame 0
    np.testing.assert_allclose(fast, score_video(generator, frames, unbounded).scores, rtol=1e-5)
    exact = stream_scores(StreamScorer(generator, config, "exact"), frames)
    full = config.model.clip_len + config.target_offset  # the first frames whose T-window starts at 0
    np.testing.assert_allclose(fast[:full], exact[:full], rtol=1e-5)


def test_reset_forgets_a_stream(tiny_config):
    generator, config = make(tiny_config)
    frames = video(5, config)
    scorer = StreamScorer(generator, config, "fast")
    first = stream_scores(scorer, frames)
    scorer.reset(0)
    np.testing.assert_allclose(stream_scores(scorer, frames), first, rtol=1e-6)

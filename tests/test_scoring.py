import numpy as np
import pytest
import torch

from svdgan.generator import Generator
from svdgan.scoring import normalize, score_stats, score_video


@pytest.fixture
def generator(tiny_config):
    torch.manual_seed(0)
    return Generator(tiny_config.model).eval()


def test_every_frame_gets_a_score_from_its_causal_window(generator, tiny_config):
    cfg = tiny_config.model
    frames = np.random.default_rng(0).integers(0, 255, (11, cfg.channels, cfg.size, cfg.size), dtype=np.uint8)
    result = score_video(generator, frames, cfg.clip_len, batch_size=3, keep={0, 10})
    assert result.scores.shape == (11,) and np.isfinite(result.scores).all()
    assert set(result.recons) == {0, 10}
    # frame 10 is the last frame of the window 7..10, reconstructed on its own
    window = score_video(generator, frames[10 - cfg.clip_len + 1:], cfg.clip_len)
    assert window.scores[-1] == pytest.approx(result.scores[10], rel=1e-5)
    # a frame's score never depends on later frames
    changed = frames.copy()
    changed[6:] = 255 - changed[6:]
    assert np.allclose(score_video(generator, changed, cfg.clip_len).scores[:6], result.scores[:6], rtol=1e-5)


def test_score_equals_mean_squared_error_of_the_reconstruction(generator, tiny_config):
    cfg = tiny_config.model
    frames = np.full((3, cfg.channels, cfg.size, cfg.size), 128, dtype=np.uint8)
    result = score_video(generator, frames, cfg.clip_len, keep={2})
    target = frames[2].astype(np.float32) / 127.5 - 1
    assert result.scores[2] == pytest.approx(((result.recons[2] - target) ** 2).mean(), rel=1e-5)


def test_normalisations():
    scores = np.array([2.0, 4.0, 6.0])
    assert normalize(scores, "video").tolist() == [0.0, 0.5, 1.0]
    stats = score_stats(np.array([2.0, 3.0, 4.0]))
    assert normalize(scores, "train", stats).tolist() == [0.0, 1.0, 2.0]  # > 1: beyond any normal frame
    assert normalize(scores, "none") is scores
    assert stats["max"] == 4.0 and stats["p50"] == 3.0

import copy

import numpy as np
import pytest
import torch

from svdgan.model.generator import Generator, fuse_for_inference
from svdgan.scoring.normalise import normalize, score_stats
from svdgan.scoring.video import first_input_frame, frame_errors, generate_windows, score_video
from svdgan.utils.series import causal_smooth


@pytest.fixture
def generator(tiny_config):
    torch.manual_seed(0)
    return Generator(tiny_config.model).eval()


def with_options(config, **score):
    config = copy.deepcopy(config)
    for key, value in score.items():
        setattr(config.score if key != "target" else config.model, key, value)
    return config


@pytest.mark.parametrize("target", ["reconstruct", "predict"])
def test_every_frame_gets_a_score_from_its_causal_window(generator, tiny_config, target):
    config = with_options(tiny_config, batch_size=3, target=target)
    cfg = config.model
    frames = np.random.default_rng(0).integers(0, 255, (11, cfg.channels, cfg.size, cfg.size), dtype=np.uint8)
    result = score_video(generator, frames, config, keep={0, 10})
    assert result.scores.shape == (11,) and np.isfinite(result.scores).all()
    assert set(result.recons) == {0, 10}
    # frame 10 comes from the last window of frames 7..10 (predicting: frame 10 from 6..9) alone
    first = first_input_frame(10, config)
    assert first == (10 - cfg.clip_len + 1 if target == "reconstruct" else 10 - cfg.clip_len)
    window = score_video(generator, frames[first:], config)
    assert window.scores[-1] == pytest.approx(result.scores[10], rel=1e-5)
    # a frame's score never depends on later frames
    changed = frames.copy()
    changed[6:] = 255 - changed[6:]
    assert np.allclose(score_video(generator, changed, config).scores[:6], result.scores[:6], rtol=1e-5)
    if target == "predict":  # ... and, predicting, not on the frame itself beyond its error
        changed = frames.copy()
        changed[10] = 255 - changed[10]
        assert np.allclose(score_video(generator, changed, config, keep={10}).recons[10], result.recons[10])


def test_score_equals_mean_squared_error_of_the_reconstruction(generator, tiny_config):
    cfg = tiny_config.model
    frames = np.full((3, cfg.channels, cfg.size, cfg.size), 128, dtype=np.uint8)
    result = score_video(generator, frames, tiny_config, keep={2})
    target = frames[2].astype(np.float32) / 127.5 - 1
    assert result.scores[2] == pytest.approx(((result.recons[2] - target) ** 2).mean(), rel=1e-5)


def test_normalisations():
    scores = np.array([2.0, 4.0, 6.0])
    assert normalize(scores, "video").tolist() == [0.0, 0.5, 1.0]
    stats = score_stats(np.array([2.0, 3.0, 4.0]))
    assert normalize(scores, "train", stats).tolist() == [0.0, 1.0, 2.0]  # > 1: beyond any normal frame
    assert normalize(scores, "none") is scores
    assert stats["max"] == 4.0 and stats["p50"] == 3.0


def test_worst_patch_error_finds_a_small_anomaly_the_frame_mean_dilutes():
    target = torch.zeros(2, 1, 32, 32)
    recon = target.clone()
    recon[0, :, 4:8, 4:8] = 1.0  # a 4x4 defect: 16 of 1024 pixels
    recon[1] += 0.25  # a faint error everywhere
    mean, worst = frame_errors(recon, target), frame_errors(recon, target, patch=4)
    assert mean[0] == pytest.approx(16 / 1024) and mean[1] == pytest.approx(0.25 ** 2)
    assert mean[0] < mean[1] and worst[0] > worst[1]  # only the patch score ranks the defect first
    assert worst[0] == pytest.approx(1.0) and worst[1] == pytest.approx(0.25 ** 2)


def test_causal_smoothing_uses_only_past_scores():
    scores = np.array([0.0, 3.0, 6.0, 0.0, 0.0])
    assert causal_smooth(scores, 1) is scores
    assert causal_smooth(scores, 2).tolist() == [0.0, 1.5, 4.5, 3.0, 0.0]
    assert causal_smooth(scores, 3).tolist() == [0.0, 1.5, 3.0, 3.0, 2.0]


def test_score_options_apply_per_video(generator, tiny_config):
    cfg = tiny_config.model
    frames = np.random.default_rng(1).integers(0, 255, (9, cfg.channels, cfg.size, cfg.size), dtype=np.uint8)
    plain = score_video(generator, frames, tiny_config).scores
    smooth = score_video(generator, frames, with_options(tiny_config, smooth=3)).scores
    assert np.allclose(smooth, causal_smooth(plain, 3))
    assert (score_video(generator, frames, with_options(tiny_config, patch=8)).scores >= plain - 1e-7).all()


@pytest.mark.parametrize("residual", [False, True])
def test_generate_windows_is_the_whole_window_reconstruction(tiny_config, residual):
    """The authors' procedure, computed with shared frame features and a frame-at-a-time decoder,
    gives what reconstructing each stacked window whole gives."""
    config = copy.deepcopy(tiny_config)
    config.model.residual = residual
    torch.manual_seed(0)
    generator = fuse_for_inference(Generator(config.model))
    cfg = config.model
    frames = torch.rand(12, cfg.channels, cfg.size, cfg.size) * 2 - 1
    ends = [cfg.clip_len - 1 + i for i in range(4)]
    with torch.inference_mode():
        whole, _ = generator.reconstruct(torch.stack([frames[t - cfg.clip_len + 1:t + 1] for t in ends]))
    for chunk in (1, 3):
        windows = generate_windows(generator, frames, ends, cfg.clip_len, chunk)
        assert windows.shape == whole.shape
        torch.testing.assert_close(windows, whole, atol=1e-5, rtol=1e-5)

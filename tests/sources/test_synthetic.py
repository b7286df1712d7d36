"""The live synthetic camera: one scene that goes on (no cut between clips), anomalies with their
frames, and calibration clips the live stream never shows."""

import itertools

import numpy as np

from svdgan.sources.scene import draw_background
from svdgan.sources.synthetic import SynthSource


def _overlap(a: np.ndarray, b: np.ndarray, background: np.ndarray) -> float:
    """How much of what stands out from the background in two frames stands out in both (IoU)."""
    fa, fb = (np.abs(f.astype(np.float32) - background).max(-1) > 40 for f in (a, b))
    return float((fa & fb).sum() / max((fa | fb).sum(), 1))


def test_the_live_stream_goes_on_across_clips_and_says_where_anomalies_are():
    source = SynthSource("cam", seed=3, size=(64, 48), clip_frames=24, anomaly_every=3)
    clips = list(itertools.islice(source.labelled_clips(), 6))
    assert [kind for _, kind, _ in clips] == [None, None, "cyclist", None, None, "cart"]
    assert clips[0][2] == [] and clips[2][2]  # the cyclist is in view in the clip it entered in
    frames = [f for clip, _, _ in clips for f in clip]
    background = draw_background(source.cfg, np.random.default_rng([3, 0]))[0]
    boundaries = [_overlap(frames[24 * k - 1], frames[24 * k], background) for k in range(1, 6)]
    assert min(boundaries) > 0.4  # no cut: the walkers of a clip's last frame are in the next one's first
    normal = source.normal_clips(2)
    assert _overlap(normal[0][-1], normal[1][0], background) < 0.2  # as a cut between two videos would not be
    assert all(0 <= t < 24 for _, _, labels in clips for t in labels)


def test_calibration_clips_are_normal_footage_the_stream_never_shows():
    source = SynthSource("cam", seed=3, size=(64, 48), clip_frames=24)
    normal = source.normal_clips(2)
    live = next(source.labelled_clips())[0]
    assert len(normal) == 2 and all(len(c) == 24 and c[0].shape == (48, 64, 3) for c in normal)
    assert not np.array_equal(normal[0][0], live[0]) and not np.array_equal(normal[0][0], normal[1][0])
    assert np.array_equal(normal[1][5], source.normal_clips(2)[1][5])  # everything follows from the seed

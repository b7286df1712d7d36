"""The public Python API on the synthetic data: load, score, stream, evaluate (the README snippet)."""

import subprocess
import sys

import numpy as np
import pytest

import svdgan
from svdgan.sources.files import image_files, read_image

from .conftest import TINY


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, synthetic_dataset):
    out = tmp_path_factory.mktemp("api") / "run"
    config = svdgan.load_config(TINY)
    return svdgan.train(synthetic_dataset, out, config, progress=False)


def test_readme_snippet_runs(checkpoint, synthetic_dataset):
    video = synthetic_dataset / "testing" / "frames" / "01"
    frames = np.stack([read_image(f) for f in image_files(video)])  # (N, H, W, 3) uint8

    model = svdgan.load(checkpoint)
    scores = model.score(frames)
    assert scores.shape == (len(frames),) and np.isfinite(scores).all()

    results = list(model.stream(str(video)))
    assert [r.frame for r in results] == list(range(len(frames)))
    np.testing.assert_allclose([r.score for r in results], scores, rtol=1e-5, atol=1e-6)  # same scores live
    assert results[0].image.shape == frames[0].shape and results[0].error_map.ndim == 2

    report = svdgan.evaluate(model, synthetic_dataset)
    assert 0 <= report["micro_auc"] <= 1 and report["n_frames"] > len(frames)


def test_score_equals_evaluate_and_fast_mode(checkpoint, synthetic_dataset, tmp_path):
    import csv

    report = svdgan.evaluate(checkpoint, synthetic_dataset, out=tmp_path, normalize="none")
    with open(tmp_path / "scores.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["video"] == "02"]
    video = synthetic_dataset / "testing" / "frames" / "02"
    frames = [read_image(f) for f in image_files(video)]
    scores = svdgan.load(checkpoint).score(frames, normalize_with="none")
    np.testing.assert_allclose(scores, [float(r["score"]) for r in rows], rtol=1e-4)
    fast = svdgan.load(checkpoint, mode="fast").score(frames, normalize_with="none")
    assert fast.shape == scores.shape and report["normalize"] == "none"


def test_bad_input_raises_user_error(checkpoint, tmp_path):
    model = svdgan.load(checkpoint)
    with pytest.raises(svdgan.UserError):
        model.score(np.zeros((3, 8, 8), np.float32))
    with pytest.raises(svdgan.UserError):
        model.score([])
    with pytest.raises(svdgan.UserError, match="not found"):
        svdgan.load(tmp_path / "missing.pt")
    with pytest.raises(svdgan.UserError, match="mode"):
        svdgan.load(checkpoint, mode="slow")
    with pytest.raises(svdgan.UserError, match="source not found"):
        next(model.stream(str(tmp_path / "nothing.avi")))


def test_help_lists_the_public_names_and_import_does_not_load_torch():
    code = ("import sys, svdgan, pydoc; print('torch' in sys.modules); "
            "print(pydoc.render_doc(svdgan, renderer=pydoc.plaintext))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("False")  # `svdgan --help` stays quick
    listed = {line.split()[0] for line in svdgan.__doc__.splitlines()[3:] if line.startswith("    ")}
    assert listed == set(svdgan.__all__) and all(f"    {name} " in out for name in svdgan.__all__)


def test_detector_and_event_tracker_snippet(checkpoint, synthetic_dataset):
    video = synthetic_dataset / "testing" / "frames" / "01"
    frames = [read_image(f) for f in image_files(video)]
    detector = svdgan.Detector.load(checkpoint)
    tracker = svdgan.EventTracker("door", threshold=0.5, min_frames=1)
    ended, scores = [], []
    for scored in detector.score_video(frames, name="door"):
        scores.append(scored.score)
        ended += [c.event.to_dict() for c in tracker.update(scored) if c.kind == "end"]
    ended += [c.event.to_dict() for c in tracker.finish()]
    np.testing.assert_allclose(scores, svdgan.load(checkpoint).score(frames), rtol=1e-5, atol=1e-6)
    above = [t for t, s in enumerate(scores) if s > 0.5]
    assert above and ended[0]["start_frame"] == above[0] and ended[-1]["end_frame"] == above[-1]
    assert all(e["source"] == "door" and e["start_frame"] <= e["peak_frame"] <= e["end_frame"] for e in ended)

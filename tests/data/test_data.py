from pathlib import Path

import numpy as np
import pytest

from svdgan.data.clips import ClipSampler
from svdgan.data.datasets import discover
from svdgan.data.frames import load_video, to_model_range
from svdgan.data.groundtruth import labels_from_ranges, read_ground_truth, write_ground_truth
from svdgan.data.synth import SynthConfig, write_synthetic
from svdgan.errors import UserError


def test_frame_folder_layout_with_mat_ground_truth(frame_folder_dataset):
    ds = discover(frame_folder_dataset)
    assert ds.layout == "frame folders"
    assert [v.name for v in ds.train] == ["01", "02"] and [v.name for v in ds.test] == ["01", "02"]
    assert ds.ground_truth == [[(3, 4)], [(1, 7)]]
    frames = load_video(ds.test[1], size=16, channels=3)
    assert frames.shape == (7, 3, 16, 16) and frames.dtype == np.uint8


def test_ucsd_layout_with_tif_frames_and_m_ground_truth(ucsd_dataset):
    ds = discover(ucsd_dataset)
    assert ds.layout == "UCSD"
    assert [v.name for v in ds.test] == ["Test001", "Test002"]  # Test001_gt is a mask folder
    assert ds.ground_truth == [[(2, 3), (5, 6)], [(1, 4)]]
    gray = load_video(ds.train[0], size=8, channels=3)
    assert gray.shape == (8, 3, 8, 8)
    np.testing.assert_array_equal(gray[:, 0], gray[:, 1])  # grayscale replicated to 3 channels
    assert load_video(ds.train[0], size=8, channels=1).shape == (8, 1, 8, 8)


def test_video_file_layout(video_dataset):
    ds = discover(video_dataset)
    assert [v.name for v in ds.train] == ["a", "b"] and [v.name for v in ds.test] == ["c"]
    assert load_video(ds.test[0], 16, 3).shape == (7, 3, 16, 16)
    single = discover(video_dataset / "training" / "a.avi")
    assert single.train == single.test and single.ground_truth is None
    plain = discover(video_dataset / "training")
    assert plain.layout == "plain folder" and len(plain.train) == 2


def test_ground_truth_formats_agree(tmp_path: Path):
    ranges = [[(61, 180)], [(5, 90), (140, 200)], []]
    write_ground_truth(ranges, tmp_path / "g.m", tmp_path / "g.mat")
    assert read_ground_truth(tmp_path / "g.m") == ranges
    assert read_ground_truth(tmp_path / "g.mat") == ranges
    (tmp_path / "obs.m").write_text("61:180\n95:180\n")  # the authors' one-range-a-line form
    assert read_ground_truth(tmp_path / "obs.m") == [[(61, 180)], [(95, 180)]]


def test_labels_one_based_and_the_authors_zero_based():
    assert labels_from_ranges([(2, 3)], 5).tolist() == [False, True, True, False, False]
    assert labels_from_ranges([(2, 3)], 5, zero_based=True).tolist() == [False, False, True, True, False]
    assert labels_from_ranges([(1, 5)], 5).all()
    with pytest.raises(UserError, match="has 4 frames"):
        labels_from_ranges([(1, 5)], 4, video="x")


def test_model_range_is_tanh_range():
    x = to_model_range(np.array([0, 255], dtype=np.uint8))
    assert x.tolist() == [-1.0, 1.0]


def test_clips_never_straddle_videos_and_use_each_stride():
    videos = [np.arange(n)[:, None, None, None].astype(np.uint8) + 100 * i for i, n in enumerate([9, 12])]
    sampler = ClipSampler(videos, clip_len=4, strides=(1, 2), seed=0)
    assert len(sampler) == (6 + 3) + (9 + 6)
    for i in range(len(sampler)):
        clip = sampler.clip(i)[:, 0, 0, 0].astype(int)
        assert len(clip) == 4 and len({c // 100 for c in clip}) == 1  # one video only
        assert len(set(np.diff(clip))) == 1 and np.diff(clip)[0] in (1, 2)
    torch_batch = sampler.batch(step=3, batch_size=5)
    assert torch_batch.shape == (5, 4, 1, 1, 1)
    assert (sampler.batch(3, 5) == torch_batch).all()  # the same step gives the same batch


def test_synthetic_dataset_is_deterministic_and_labelled(tmp_path: Path):
    cfg = SynthConfig(width=40, height=32, train_videos=1, test_videos=3, frames=30, seed=3)
    a, b = write_synthetic(tmp_path / "a", cfg), write_synthetic(tmp_path / "b", cfg)
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.png"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    ds = discover(a)
    assert ds.ground_truth == read_ground_truth(a / "synth.m")
    assert len(ds.test) == 3 and all(ranges for ranges in ds.ground_truth)  # every test video has an event
    for ranges in ds.ground_truth:
        labels = labels_from_ranges(ranges, 30)
        assert 0 < labels.sum() < 30
    other = write_synthetic(tmp_path / "c", SynthConfig(**{**cfg.__dict__, "seed": 4}))
    assert (other / files[0]).read_bytes() != (a / files[0]).read_bytes()


def test_each_kind_of_anomaly_is_in_the_scene_and_the_demo_scores_it_alone(tmp_path: Path):
    from svdgan.demo import kind_aucs
    from svdgan.evaluation.scorefiles import write_scores_csv
    from svdgan.sources.scene import ANOMALY_KINDS, ONE_ATTRIBUTE

    assert set(ONE_ATTRIBUTE) <= set(ANOMALY_KINDS) and set(ONE_ATTRIBUTE.values()) == {"appearance", "motion",
                                                                                          "place"}
    cfg = SynthConfig(width=48, height=36, train_videos=1, test_videos=len(ANOMALY_KINDS), frames=40, seed=1)
    data = write_synthetic(tmp_path / "s", cfg)
    ds = discover(data)
    assert all(ranges for ranges in ds.ground_truth)  # every kind shows up in its video
    rows = []
    for i, (video, ranges) in enumerate(zip(ds.test, ds.ground_truth)):
        labels = labels_from_ranges(ranges, cfg.frames)
        perfect = i % len(ANOMALY_KINDS) == 0  # a scorer that sees only the first kind
        rows.append((video.name, labels.astype(float) if perfect else np.zeros(cfg.frames), labels))
    write_scores_csv(tmp_path / "scores.csv", rows)
    aucs = kind_aucs(data, tmp_path / "scores.csv")
    assert list(aucs) == list(ANOMALY_KINDS)
    assert aucs[ANOMALY_KINDS[0]] == 1.0 and all(aucs[k] == 0.5 for k in ANOMALY_KINDS[1:])


def test_the_demo_fits_the_recipe_and_the_objects_option_and_says_what_their_alerts_name(tmp_path: Path, capsys):
    from svdgan.demo import run_demo
    from svdgan.sources.scene import ANOMALY_KINDS

    write_synthetic(tmp_path / "data", SynthConfig(width=64, height=48, train_videos=2,
                                                   test_videos=len(ANOMALY_KINDS), frames=40, seed=2))
    summary = run_demo(tmp_path)  # the scene is there already: the demo uses it
    assert list(summary["models"]) == ["recipe", "look", "objects"]
    recipe, objects = summary["models"]["recipe"], summary["models"]["objects"]
    assert 0 <= summary["models"]["look"]["micro_auc_train_normalized"] <= 1
    assert list(recipe["by_kind_train_normalized"]) == list(ANOMALY_KINDS) and 0 <= recipe["micro_auc"] <= 1
    assert set(objects["reasons"]) == set(ANOMALY_KINDS)
    assert all(n > 0 for said in objects["reasons"].values() for n in said.values())
    import torch

    fitted = torch.load(tmp_path / "objects" / "checkpoint.pt", weights_only=True)
    assert "generator" not in fitted and fitted["motion"]["objects"]["groups"] == ["size"]  # fitted, not trained
    out = capsys.readouterr().out
    assert "[1/4] using the synthetic scene" in out and "its alerts say" in out
    assert "look" in torch.load(tmp_path / "look" / "checkpoint.pt", weights_only=True)["motion"]

"""Each benchmark's published layout, written tiny, read back with frame labels and pixel masks."""

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from svdgan.cli import main
from svdgan.data.datasets import discover
from svdgan.data.groundtruth import frame_labels
from svdgan.errors import UserError

from ..conftest import TINY, random_frames, write_frame_folder, write_video


def _masks(n, h, w, anomalous):
    masks = np.zeros((n, h, w), np.uint8)
    for t in anomalous:
        masks[t, 4:12, 6:14] = 1
    return masks


@pytest.fixture
def avenue(tmp_path: Path) -> Path:
    """Avenue Dataset/training_videos/01.avi, testing_videos/01.avi, testing_label_mask/1_label.mat."""
    root = tmp_path / "Avenue Dataset"
    for v in (1, 2):
        write_video(root / "training_videos" / f"{v:02d}.avi", random_frames(10, seed=v))
        write_video(root / "testing_videos" / f"{v:02d}.avi", random_frames(8, seed=10 + v))
        cell = np.empty((1, 8), dtype=object)
        for t, mask in enumerate(_masks(8, 24, 32, range(3, 6) if v == 1 else [7])):
            cell[0, t] = mask
        (root / "testing_label_mask").mkdir(exist_ok=True)
        scipy.io.savemat(str(root / "testing_label_mask" / f"{v}_label.mat"), {"volLabel": cell})
    return root


@pytest.fixture
def shanghaitech(tmp_path: Path) -> Path:
    """training/videos/01_001.avi, testing/frames/01_0014/000.jpg, test_frame_mask/, test_pixel_mask/."""
    root = tmp_path / "shanghaitech"
    for scene, video in (("01", "001"), ("02", "001")):
        write_video(root / "training" / "videos" / f"{scene}_{video}.avi", random_frames(10, seed=int(scene)))
    for name, anomalous in (("01_0014", [2, 3]), ("01_0015", [5]), ("02_0161", [0, 1, 2])):
        write_frame_folder(root / "testing" / "frames" / name, random_frames(6, seed=len(name)))
        labels = np.zeros(6, np.int64)
        labels[anomalous] = 1
        (root / "testing" / "test_frame_mask").mkdir(parents=True, exist_ok=True)
        (root / "testing" / "test_pixel_mask").mkdir(parents=True, exist_ok=True)
        np.save(root / "testing" / "test_frame_mask" / f"{name}.npy", labels)
        np.save(root / "testing" / "test_pixel_mask" / f"{name}.npy", _masks(6, 24, 32, anomalous))
    return root


def test_avenue_layout_labels_from_pixel_masks(avenue):
    ds = discover(avenue)
    assert ds.layout == "Avenue" and [v.name for v in ds.train] == ["01", "02"] and len(ds.test) == 2
    assert frame_labels(ds.ground_truth[0], 8).tolist() == [False] * 3 + [True] * 3 + [False] * 2
    assert ds.pixel_masks[1].at_size(8, 16).shape == (8, 16, 16)
    with pytest.raises(UserError, match="the video 7 frames"):
        frame_labels(ds.ground_truth[0], 7, "01")


def test_shanghaitech_layout_all_scenes_or_one(shanghaitech):
    ds = discover(shanghaitech)
    assert ds.layout == "ShanghaiTech" and len(ds.train) == 2 and len(ds.test) == 3
    assert frame_labels(ds.ground_truth[2], 6).tolist() == [True] * 3 + [False] * 3
    one = discover(shanghaitech, scene="01")
    assert [v.name for v in one.train] == ["01_001"] and [v.name for v in one.test] == ["01_0014", "01_0015"]
    assert len(one.ground_truth) == len(one.pixel_masks) == 2
    with pytest.raises(UserError, match="scene 07"):
        discover(shanghaitech, scene="07")


def test_ucsd_pixel_masks(ucsd_dataset):
    gt = ucsd_dataset / "UCSDped2" / "Test" / "Test001_gt"
    write_frame_folder(gt, [m * 255 for m in _masks(6, 24, 32, [1, 2, 4, 5])], "bmp", start=1)
    ds = discover(ucsd_dataset)
    assert ds.pixel_masks[0] is not None and ds.pixel_masks[1] is None
    assert ds.pixel_masks[0].load().shape == (6, 24, 32)


@pytest.mark.parametrize("layout, scene", [("avenue", []), ("shanghaitech", ["--scene", "01"])])
def test_evaluate_reports_pixel_auc(layout, scene, request, tmp_path):
    root = request.getfixturevalue(layout)
    run = tmp_path / "run"
    assert main(["train", "--data", str(root), "--out", str(run), "--config", str(TINY), "--quiet", *scene]) == 0
    out = tmp_path / "report"
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--data", str(root), "--out", str(out),
                 "--quiet", *scene]) == 0
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["pixel_auc"] <= 1 and metrics["pixel_auc_frames"] == metrics["n_frames"]
    assert metrics["n_videos"] == 2


def test_bad_pixel_masks(avenue, capsys, tmp_path):
    scipy.io.savemat(str(avenue / "testing_label_mask" / "2_label.mat"), {"other": 1})
    ds = discover(avenue)
    with pytest.raises(UserError, match="volLabel"):
        ds.pixel_masks[1].load()
    (avenue / "testing_label_mask" / "2_label.mat").unlink()
    with pytest.raises(UserError, match="missing"):
        discover(avenue)

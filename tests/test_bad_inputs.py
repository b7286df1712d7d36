"""Malformed input across the commands: one line on stderr, exit status 2, nothing half-written.

(More cases live beside each command's tests: test_cli, test_detect, test_layouts.)"""

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from svdgan.cli import main

from .conftest import TINY, random_frames, write_frame_folder, write_video


def _dataset(root: Path, train_frames=8, test_frames=6) -> Path:
    for v in (1, 2):
        write_frame_folder(root / "training" / "frames" / f"{v:02d}", random_frames(train_frames, seed=v))
        write_frame_folder(root / "testing" / "frames" / f"{v:02d}", random_frames(test_frames, seed=9 + v))
    return root


def one_frame_videos(tmp: Path) -> list:
    return ["train", "--data", _dataset(tmp / "d", train_frames=1), "--out", tmp / "out", "--config", TINY]


def mixed_frame_sizes(tmp: Path) -> list:
    root = _dataset(tmp / "d")
    cv2.imwrite(str(root / "training" / "frames" / "01" / "003.jpg"), random_frames(1, 40, 50)[0])
    return ["train", "--data", root, "--out", tmp / "out", "--config", TINY]


def zero_byte_frame(tmp: Path) -> list:
    root = _dataset(tmp / "d")
    (root / "training" / "frames" / "02" / "004.jpg").write_bytes(b"")
    return ["train", "--data", root, "--out", tmp / "out", "--config", TINY]


def corrupt_video(tmp: Path) -> list:
    (tmp / "v" / "training").mkdir(parents=True)
    (tmp / "v" / "training" / "a.avi").write_bytes(b"RIFF" + bytes(range(256)) * 8)
    return ["train", "--data", tmp / "v", "--out", tmp / "out", "--config", TINY]


def label_array_too_short(tmp: Path) -> list:
    root = _dataset(tmp / "st")
    (root / "testing" / "test_frame_mask").mkdir()
    for v in ("01", "02"):
        np.save(root / "testing" / "test_frame_mask" / f"{v}.npy", np.zeros(4, np.int64))
    return ["evaluate", "--checkpoint", tmp / "model.pt", "--data", root, "--out", tmp / "out"]


def label_array_not_binary(tmp: Path) -> list:
    root = _dataset(tmp / "st")
    (root / "testing" / "test_frame_mask").mkdir()
    for v in ("01", "02"):
        np.save(root / "testing" / "test_frame_mask" / f"{v}.npy", np.full((6, 2), 7))
    return ["evaluate", "--checkpoint", tmp / "model.pt", "--data", root, "--out", tmp / "out"]


def pickled_label_array(tmp: Path) -> list:
    root = _dataset(tmp / "st")
    (root / "testing" / "test_frame_mask").mkdir()
    for v in ("01", "02"):
        (root / "testing" / "test_frame_mask" / f"{v}.npy").write_bytes(pickle.dumps({"labels": [0] * 6}))
    return ["evaluate", "--checkpoint", tmp / "model.pt", "--data", root, "--out", tmp / "out"]


def detect_into_missing_folder(tmp: Path) -> list:
    write_video(tmp / "clip.avi", random_frames(4))
    return ["detect", tmp / "clip.avi", "--checkpoint", tmp / "model.pt", "--output", tmp / "no" / "such" / "a.mp4"]


def detect_empty_frame_folder(tmp: Path) -> list:
    (tmp / "empty").mkdir()
    return ["detect", tmp / "empty", "--checkpoint", tmp / "model.pt", "--events", tmp / "out"]


def detect_unreadable_frames_only(tmp: Path) -> list:
    (tmp / "broken").mkdir()
    for i in range(3):
        (tmp / "broken" / f"{i:03d}.png").write_bytes(b"not a png")
    return ["detect", tmp / "broken", "--checkpoint", tmp / "model.pt", "--events", tmp / "out"]


def export_bad_checkpoint(tmp: Path) -> list:
    (tmp / "bad.pt").write_bytes(b"\x80\x04not a zip")
    return ["export", "--checkpoint", tmp / "bad.pt", "--onnx", tmp / "out"]


def metrics_of_a_missing_score_column(tmp: Path) -> list:
    (tmp / "scores.csv").write_text("video,frame,label\n01,1,0\n")
    (tmp / "gt.m").write_text("1:1\n")
    return ["metrics", "--scores", tmp / "scores.csv", "--ground-truth", tmp / "gt.m"]


def calibrate_on_nothing(tmp: Path) -> list:
    (tmp / "nothing").mkdir()
    return ["calibrate", "--checkpoint", tmp / "model.pt", "--data", tmp / "nothing", "--out", tmp / "out"]


def non_ascii_missing_path(tmp: Path) -> list:
    return ["evaluate", "--checkpoint", tmp / "model.pt", "--data", tmp / "vidéos_監視", "--out", tmp / "out"]


CASES = [one_frame_videos, mixed_frame_sizes, zero_byte_frame, corrupt_video, label_array_too_short,
         label_array_not_binary, pickled_label_array, detect_into_missing_folder, detect_empty_frame_folder,
         detect_unreadable_frames_only, export_bad_checkpoint, metrics_of_a_missing_score_column,
         calibrate_on_nothing, non_ascii_missing_path]


@pytest.fixture(scope="module")
def model(tmp_path_factory, synthetic_dataset):
    out = tmp_path_factory.mktemp("bad") / "run"
    assert main(["train", "--data", str(synthetic_dataset), "--out", str(out), "--config", str(TINY), "--quiet"]) == 0
    return out / "checkpoint.pt"


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_malformed_input(case, model, tmp_path, capsys):
    (tmp_path / "model.pt").write_bytes(model.read_bytes())
    args = [str(a) for a in case(tmp_path)]
    code = main(args + (["--quiet"] if args[0] in ("train", "evaluate", "calibrate") else []))
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("svdgan: error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_odd_but_valid_input_works(tmp_path, model, capsys):
    """RGBA frames and non-ASCII paths are not errors."""
    root = tmp_path / "vidéos_監視"
    for split in ("training", "testing"):
        folder = root / split / "frames" / "01"
        folder.mkdir(parents=True)
        for i, frame in enumerate(random_frames(6)):
            rgba = np.dstack([frame, np.full(frame.shape[:2], 128, np.uint8)])
            assert cv2.imwrite(str(folder / f"{i:03d}.png"), rgba)
    assert main(["evaluate", "--checkpoint", str(model), "--data", str(root), "--out", str(root / "report"),
                 "--quiet"]) == 0
    assert (root / "report" / "scores.csv").exists()

"""Fixtures that write tiny datasets in each real on-disk layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from svdgan.config import load_config
from svdgan.data.groundtruth import write_ground_truth
from svdgan.data.synth import SynthConfig, write_synthetic

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def random_frames(n: int, h: int = 24, w: int = 32, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def write_frame_folder(folder: Path, frames: list[np.ndarray], ext: str = "jpg", start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        assert cv2.imwrite(str(folder / f"{i + start:03d}.{ext}"), frame)


def write_video(path: Path, frames: list[np.ndarray], fourcc: str = "MJPG", fps: float = 10.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()


@pytest.fixture(autouse=True)
def fp32_where_auto(monkeypatch):
    """Precision 'auto' is fp32 in every test, on every machine kind: bfloat16, where a CPU has it
    natively, rounds scores differently in each code path, and the tests compare paths exactly.
    Tests of bfloat16 ask for it, or stub the CPU's flags themselves."""
    from svdgan.utils import precision

    flags = precision.cpu_flags()
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(flags) - {"avx512_bf16", "amx_bf16", "bf16"})


@pytest.fixture
def tiny_config():
    return load_config(TINY)


@pytest.fixture
def frame_folder_dataset(tmp_path: Path) -> Path:
    """ROOT/training/frames/<v>/NNN.jpg, ROOT/testing/frames/<v>/..., ROOT/gt.mat (cell gt)."""
    root = tmp_path / "ff"
    for v in range(2):
        write_frame_folder(root / "training" / "frames" / f"{v + 1:02d}", random_frames(8, seed=v))
        write_frame_folder(root / "testing" / "frames" / f"{v + 1:02d}", random_frames(6 + v, seed=10 + v))
    write_ground_truth([[(3, 4)], [(1, 7)]], root / "gt.m", root / "gt.mat")
    (root / "gt.m").unlink()
    return root


@pytest.fixture
def ucsd_dataset(tmp_path: Path) -> Path:
    """The original UCSD layout: UCSDped2/Train/Train001/001.tif, Test/Test001/, UCSDped2.m."""
    root = tmp_path / "UCSD_Anomaly_Dataset.v1p2"
    ped = root / "UCSDped2"
    for v in range(2):
        gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in random_frames(8, seed=v)]
        write_frame_folder(ped / "Train" / f"Train{v + 1:03d}", gray, "tif", start=1)
        write_frame_folder(ped / "Test" / f"Test{v + 1:03d}", gray[:6], "tif", start=1)
    (ped / "Test" / "Test001_gt").mkdir()  # pixel masks folder: not a video
    (ped / "Test" / "UCSDped2.m").write_text(
        "TestVideoFile = {};\nTestVideoFile{end+1}.gt_frame = [2:3, 5:6];\n"
        "TestVideoFile{end+1}.gt_frame = [1:4];\n")
    return root


@pytest.fixture
def video_dataset(tmp_path: Path) -> Path:
    """ROOT/training/*.avi and ROOT/testing/*.mp4 with ROOT/gt.m."""
    root = tmp_path / "vids"
    write_video(root / "training" / "a.avi", random_frames(9, seed=1))
    write_video(root / "training" / "b.avi", random_frames(9, seed=2))
    write_video(root / "testing" / "c.mp4", random_frames(7, seed=3), fourcc="mp4v")
    (root / "gt.m").write_text("TestVideoFile{end+1}.gt_frame = [2:5];\n")
    return root


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "data"
    return write_synthetic(root, SynthConfig(width=40, height=32, train_videos=2, test_videos=3, frames=24))

"""Finding the training and test videos (and ground truth) of a dataset on disk.

Layouts recognised, by what ROOT contains:
  frame folders   training/frames/<video>/<n>.jpg, testing/frames/<video>/..., *.mat (cell `gt`) or *.m
  UCSD original   [UCSDpedN/]Train/Train001/*.tif, Test/Test001/*.tif, UCSDpedN.m, Test001_gt/ pixel masks
  CUHK Avenue     training_videos/*.avi, testing_videos/*.avi, testing_label_mask/N_label.mat (volLabel)
  ShanghaiTech    training/videos/*.avi, testing/frames/<scene>_<video>/, testing/test_frame_mask/*.npy,
                  testing/test_pixel_mask/*.npy; `scene` keeps one scene
  video files     training/*.avi|mp4, testing/*.avi|mp4 (ground truth as above, optional)
  plain folder    video files, frame folders or frames directly: used for training and testing
                  alike, without labels
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svdgan.data.frames import VideoRef
from svdgan.data.groundtruth import Ranges, read_frame_mask, read_ground_truth
from svdgan.data.masks import PixelMasks
from svdgan.errors import UserError
from svdgan.sources.files import VIDEO_EXTENSIONS, image_files, natural_key

FrameTruth = Ranges | np.ndarray | PixelMasks  # see groundtruth.frame_labels


@dataclass
class Dataset:
    root: Path
    layout: str
    train: list[VideoRef]
    test: list[VideoRef]
    ground_truth: list[FrameTruth] | None  # one entry per test video, or None (no labels)
    pixel_masks: list[PixelMasks | None] | None = None  # per test video, where the layout has them


def _videos_in(folder: Path, skip_suffix: str = "_gt") -> list[VideoRef]:
    """Each sub-folder holding images and each video file directly in `folder` is a video."""
    refs = []
    for entry in sorted(folder.iterdir(), key=natural_key):
        if entry.is_dir() and not entry.name.endswith(skip_suffix):
            refs.append(VideoRef(entry.name, entry))
        elif entry.is_file() and entry.suffix.lower() in VIDEO_EXTENSIONS:
            refs.append(VideoRef(entry.stem, entry))
    return refs


def _find_ground_truth(*folders: Path) -> Path | None:
    """A .mat with a `gt` cell, else a UCSD-style .m, in the given folders."""
    for pattern in ("*.mat", "*.m"):
        for folder in folders:
            if folder.is_dir():
                found = sorted(folder.glob(pattern), key=natural_key)
                if found:
                    return found[0]
    return None


def _ucsd_root(root: Path) -> Path | None:
    if (root / "Train").is_dir() and (root / "Test").is_dir():
        return root
    candidates = sorted(root.glob("UCSDped*"), key=natural_key)
    for candidate in candidates:
        if (candidate / "Train").is_dir() and (candidate / "Test").is_dir():
            return candidate
    return None


def _avenue(root: Path) -> tuple[list[VideoRef], list[VideoRef], list[PixelMasks] | None]:
    train = _videos_in(root / "training_videos") if (root / "training_videos").is_dir() else []
    test = _videos_in(root / "testing_videos") if (root / "testing_videos").is_dir() else []
    mask_dir = root / "testing_label_mask"
    if not mask_dir.is_dir():
        return train, test, None
    masks = []
    for video in test:
        path = mask_dir / f"{int(video.name) if video.name.isdigit() else video.name}_label.mat"
        if not path.is_file():
            raise UserError(f"Avenue ground truth missing for test video {video.name}: {path}")
        masks.append(PixelMasks(path))
    return train, test, masks


def _shanghaitech(root: Path) -> tuple[list[VideoRef], list[VideoRef], list[np.ndarray], list[PixelMasks | None]]:
    train_dir = root / "training" / ("videos" if (root / "training" / "videos").is_dir() else "frames")
    train = _videos_in(train_dir) if train_dir.is_dir() else []
    test = _videos_in(root / "testing" / "frames") if (root / "testing" / "frames").is_dir() else []
    truth, masks = [], []
    for video in test:
        path = root / "testing" / "test_frame_mask" / f"{video.name}.npy"
        if not path.is_file():
            raise UserError(f"ShanghaiTech frame labels missing for test video {video.name}: {path}")
        truth.append(read_frame_mask(path))
        pixel = root / "testing" / "test_pixel_mask" / f"{video.name}.npy"
        masks.append(PixelMasks(pixel) if pixel.is_file() else None)
    return train, test, truth, masks


def _in_scene(videos: list[VideoRef], scene: str) -> list[bool]:
    return [v.name.split("_")[0] == scene for v in videos]


def discover(root: str | Path, ground_truth: str | Path | None = None, scene: str | None = None) -> Dataset:
    root = Path(root)
    if not root.exists():
        raise UserError(f"data path not found: {root}")
    if root.is_file():
        if root.suffix.lower() not in VIDEO_EXTENSIONS:
            raise UserError(f"not a video file: {root}")
        video = VideoRef(root.stem, root)
        return Dataset(root, "video file", [video], [video], None)

    gt_path: Path | None = Path(ground_truth) if ground_truth else None
    truth: list | None = None
    pixel_masks: list | None = None
    ucsd = _ucsd_root(root)
    if (root / "training_videos").is_dir() or (root / "testing_videos").is_dir():
        train, test, pixel_masks = _avenue(root)
        layout = "Avenue"
        truth = list(pixel_masks) if pixel_masks is not None and gt_path is None else None
        gt_path = gt_path or (None if truth is not None else _find_ground_truth(root))
    elif (root / "testing" / "test_frame_mask").is_dir():
        train, test, frame_truth, pixel_masks = _shanghaitech(root)
        layout = "ShanghaiTech"
        truth = frame_truth if gt_path is None else None
    elif (root / "training").is_dir() or (root / "testing").is_dir():
        def split(name: str) -> list[VideoRef]:
            folder = root / name
            for sub in ("frames", "videos"):
                if (folder / sub).is_dir():
                    return _videos_in(folder / sub)
            return _videos_in(folder) if folder.is_dir() else []
        train, test = split("training"), split("testing")
        layout = "frame folders"
        gt_path = gt_path or _find_ground_truth(root)
    elif ucsd is not None:
        train, test = _videos_in(ucsd / "Train"), _videos_in(ucsd / "Test")
        layout = "UCSD"
        gt_path = gt_path or _find_ground_truth(ucsd / "Test", ucsd)
        masks = [ucsd / "Test" / f"{v.name}_gt" for v in test]
        pixel_masks = [PixelMasks(m) if m.is_dir() else None for m in masks]
        if not any(pixel_masks):
            pixel_masks = None
    else:
        if image_files(root):
            train = test = [VideoRef(root.name, root)]
        else:
            train = test = _videos_in(root)
        layout = "plain folder"

    if not train and not test:
        raise UserError(f"no videos found under {root} (expected frame folders or video files)")
    if truth is None and gt_path:
        truth = read_ground_truth(gt_path)
    if truth is not None and len(truth) != len(test):
        raise UserError(f"ground truth {gt_path or root} lists {len(truth)} videos, "
                        f"but {root} has {len(test)} test videos")
    if scene is not None:
        keep = _in_scene(test, scene)
        train = [v for v, k in zip(train, _in_scene(train, scene)) if k]
        test = [v for v, k in zip(test, keep) if k]
        truth = [t for t, k in zip(truth, keep) if k] if truth is not None else None
        pixel_masks = [m for m, k in zip(pixel_masks, keep) if k] if pixel_masks is not None else None
        if not train and not test:
            raise UserError(f"no videos of scene {scene} under {root} (names look like <scene>_<video>)")
    return Dataset(root, layout, train, test, truth, pixel_masks)

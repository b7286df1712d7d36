"""Finding the training and test videos (and ground truth) of a dataset on disk.

Layouts recognised, by what ROOT contains:
  frame folders   training/frames/<video>/<n>.jpg, testing/frames/<video>/..., *.mat (cell `gt`) or *.m
  UCSD original   [UCSDpedN/]Train/Train001/*.tif, Test/Test001/*.tif, UCSDpedN.m
  video files     training/*.avi|mp4, testing/*.avi|mp4 (ground truth as above, optional)
  plain folder    video files, frame folders or frames directly: used for training and testing
                  alike, without labels
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .frames import VIDEO_EXTENSIONS, VideoRef, image_files, natural_key
from .groundtruth import Ranges, read_ground_truth


@dataclass
class Dataset:
    root: Path
    layout: str
    train: list[VideoRef]
    test: list[VideoRef]
    ground_truth: list[Ranges] | None  # one entry per test video, or None (no labels)


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


def discover(root: str | Path, ground_truth: str | Path | None = None) -> Dataset:
    root = Path(root)
    if not root.exists():
        raise UserError(f"data path not found: {root}")
    if root.is_file():
        if root.suffix.lower() not in VIDEO_EXTENSIONS:
            raise UserError(f"not a video file: {root}")
        video = VideoRef(root.stem, root)
        return Dataset(root, "video file", [video], [video], None)

    gt_path: Path | None = Path(ground_truth) if ground_truth else None
    ucsd = _ucsd_root(root)
    if (root / "training").is_dir() or (root / "testing").is_dir():
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
    else:
        if image_files(root):
            train = test = [VideoRef(root.name, root)]
        else:
            train = test = _videos_in(root)
        layout = "plain folder"

    if not train and not test:
        raise UserError(f"no videos found under {root} (expected frame folders or video files)")
    labels = read_ground_truth(gt_path) if gt_path else None
    if labels is not None and len(labels) != len(test):
        raise UserError(f"ground truth {gt_path} lists {len(labels)} videos, "
                        f"but {root} has {len(test)} test videos")
    return Dataset(root, layout, train, test, labels)


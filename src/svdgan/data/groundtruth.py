"""Frame-level ground truth: 1-based inclusive [start, end] ranges per test video.

Read from a MATLAB `.mat` file holding a cell `gt` of 2 x k arrays ([starts; ends]), or from a
UCSD-style `.m` text file (`TestVideoFile{end+1}.gt_frame = [61:180];`, or one `61:180` a line).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from svdgan.data.masks import PixelMasks
from svdgan.errors import UserError

Ranges = list[tuple[int, int]]  # 1-based, inclusive

_RANGE = re.compile(r"(\d+)\s*:\s*(\d+)")


def _parse_m(path: Path) -> list[Ranges]:
    videos = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.split("%", 1)[0]
        ranges = [(int(a), int(b)) for a, b in _RANGE.findall(line)]
        if ranges:
            videos.append(ranges)
        elif "gt_frame" in line:
            videos.append([])  # a test video with no anomaly
    return videos


def _parse_mat(path: Path) -> list[Ranges]:
    import scipy.io

    try:
        data = scipy.io.loadmat(str(path))
    except (ValueError, OSError, TypeError, NotImplementedError) as exc:
        raise UserError(f"cannot read ground truth {path}: {exc}") from None
    if "gt" not in data:
        raise UserError(f"ground truth {path} has no variable 'gt'")
    cell = np.asarray(data["gt"])
    if cell.dtype != object:
        raise UserError(f"ground truth {path}: 'gt' must be a cell of [start; end] arrays")
    videos = []
    for entry in cell.ravel():
        arr = np.asarray(entry)
        if arr.size == 0:
            videos.append([])
            continue
        if arr.ndim != 2 or arr.shape[0] != 2 or not np.issubdtype(arr.dtype, np.number):
            raise UserError(f"ground truth {path}: each 'gt' entry must be a 2 x k array of [start; end]")
        videos.append([(int(s), int(e)) for s, e in arr.T])
    return videos


def read_ground_truth(path: str | Path) -> list[Ranges]:
    """Ranges for each test video, in video order."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"ground truth file not found: {path}")
    videos = _parse_mat(path) if path.suffix.lower() == ".mat" else _parse_m(path)
    if not videos:
        raise UserError(f"ground truth {path} holds no frame ranges")
    for i, ranges in enumerate(videos, 1):
        for start, end in ranges:
            if start < 1 or end < start:
                raise UserError(f"ground truth {path}: video {i} has a bad range {start}:{end}")
    return videos


def labels_from_ranges(ranges: Ranges, n_frames: int, zero_based: bool = False,
                       video: str = "") -> np.ndarray:
    """Boolean label per frame. zero_based=True applies the ranges to 0-based indices, as the
    authors' evaluation does (an off-by-one kept only for the 'authors' protocol)."""
    labels = np.zeros(n_frames, dtype=bool)
    offset = 0 if zero_based else 1
    for start, end in ranges:
        if not zero_based and end > n_frames:
            raise UserError(f"ground truth for video {video} ends at frame {end}, "
                            f"but the video has {n_frames} frames")
        labels[start - offset:end - offset + 1] = True
    return labels


def frame_labels(truth: Ranges | np.ndarray | PixelMasks, n_frames: int, video: str = "") -> np.ndarray:
    """Boolean label per frame from any form of frame-level ground truth: 1-based ranges, a
    per-frame 0/1 array (ShanghaiTech's test_frame_mask), or pixel masks (any pixel set)."""
    if isinstance(truth, PixelMasks):
        masks = truth.load()
        if len(masks) != n_frames:
            raise UserError(f"pixel masks for video {video} hold {len(masks)} frames, the video {n_frames} frames")
        return masks.reshape(len(masks), -1).any(1)
    if isinstance(truth, np.ndarray):
        if truth.ndim != 1 or len(truth) != n_frames:
            raise UserError(f"ground truth for video {video} has {truth.size} frame labels, "
                            f"the video {n_frames} frames")
        return truth.astype(bool)
    return labels_from_ranges(truth, n_frames, video=video)


def read_frame_mask(path: Path) -> np.ndarray:
    """A per-frame 0/1 label array stored as .npy (ShanghaiTech)."""
    try:
        labels = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read frame labels {path}: {str(exc).splitlines()[0][:200]}") from None
    if labels.ndim != 1 or not np.isin(labels, (0, 1)).all():
        raise UserError(f"frame labels {path} must be a 1-D array of 0 and 1")
    return labels.astype(bool)


def write_ground_truth(videos: list[Ranges], m_path: Path, mat_path: Path) -> None:
    """Write the same ranges as a UCSD-style .m file and as a .mat cell `gt`."""
    import scipy.io

    lines = ["TestVideoFile = {};"]
    for ranges in videos:
        body = ", ".join(f"{s}:{e}" for s, e in ranges)
        lines.append(f"TestVideoFile{{end+1}}.gt_frame = [{body}];")
    m_path.write_text("\n".join(lines) + "\n")
    cell = np.empty((1, len(videos)), dtype=object)
    for i, ranges in enumerate(videos):
        cell[0, i] = np.array(ranges, dtype=np.int32).reshape(-1, 2).T
    scipy.io.savemat(str(mat_path), {"gt": cell})

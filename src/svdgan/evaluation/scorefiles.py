"""Per-frame score files: svdgan's scores.csv, and score files made elsewhere.

svdgan writes one `scores.csv` with columns video,frame,score,label (frame 1-based, score =
anomaly score, label 0/1 or empty). `svdgan metrics` also reads a folder of one CSV per video
(sorted by name): either in svdgan's columns, or the SVD-GAN authors' released files, whose
columns are an unnamed row index and `score`, a *regularity* score (high = normal).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from svdgan.errors import UserError
from svdgan.sources.files import natural_key


def write_scores_csv(path: Path, rows: list[tuple[str, np.ndarray, np.ndarray | None]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["video", "frame", "score", "label"])
        for name, scores, labels in rows:
            for i, score in enumerate(scores):
                label = "" if labels is None else int(labels[i])
                writer.writerow([name, i + 1, f"{score:.8g}", label])


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r]
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read scores {path}: {exc}") from None
    if not rows:
        raise UserError(f"scores file {path} is empty")
    return [c.strip().lower() for c in rows[0]], rows[1:]


def _floats(values: list[str], path: Path) -> np.ndarray:
    try:
        out = np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        raise UserError(f"scores file {path} has a non-numeric score") from None
    if not np.isfinite(out).all():
        raise UserError(f"scores file {path} has a NaN or infinite score")
    return out


def read_scores(path: str | Path, score_type: str = "auto") -> list[tuple[str, np.ndarray]]:
    """(video, anomaly scores) in video order. score_type: auto | anomaly | regularity."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"scores not found: {path}")
    files = sorted(path.glob("*.csv"), key=natural_key) if path.is_dir() else [path]
    if not files:
        raise UserError(f"no .csv score files in {path}")
    videos: list[tuple[str, np.ndarray]] = []
    for file in files:
        header, rows = _read_csv(file)
        if "score" not in header:
            raise UserError(f"scores file {file} has no 'score' column")
        col = header.index("score")
        regularity = score_type == "regularity" or (score_type == "auto" and header[0] == "")
        if any(len(r) <= col for r in rows):
            raise UserError(f"scores file {file} has a row without a score")
        if "video" in header:
            vcol = header.index("video")
            names = list(dict.fromkeys(r[vcol] for r in rows))
            found = [(n, _floats([r[col] for r in rows if r[vcol] == n], file)) for n in names]
        else:
            found = [(file.stem, _floats([r[col] for r in rows], file))]
        videos += [(n, 1.0 - s) for n, s in found] if regularity else found
    if any(len(s) == 0 for _, s in videos):
        raise UserError(f"a video in {path} has no scores")
    return videos

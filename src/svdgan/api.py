"""The Python API: load a model, score frames, stream a source, evaluate on a dataset.

    import svdgan
    model = svdgan.load()                          # the shipped UCSD Ped2 model, or load("run/checkpoint.pt")
    scores = model.score(frames)                   # (N, H, W, 3) uint8 -> (N,) normalised scores
    for result in model.stream("rtsp://cam/1"):    # live: one result per frame
        ...
    report = svdgan.evaluate(model, "data/ucsd_ped2")

The command line calls the same code: every path scores through the one `Detector`, and events
come from the one `EventTracker`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from svdgan.defaults import END_FRAMES, MIN_FRAMES, MODE, NORMALIZE, PRECISION, THRESHOLD
from svdgan.errors import UserError
from svdgan.evaluation.report import evaluate_checkpoint
from svdgan.live.events import EventTracker
from svdgan.scoring.detector import Detector, ScoredFrame
from svdgan.scoring.normalise import NORMALIZATIONS, normalize, require_stats
from svdgan.sources.open import open_source
from svdgan.sources.video import Source


class Model:
    """A model file loaded for scoring: the Detector that `svdgan evaluate`, `detect` and `serve` use."""

    def __init__(self, path: str | Path | None = None, mode: str = MODE, precision: str = PRECISION):
        self.mode, self.precision = mode, precision
        self.detector = Detector.load(path, mode, precision)
        self.path, self.config = self.detector.path, self.detector.config
        self.stats: dict[str, float] | None = self.detector.stats
        self.memory = self.detector.memory  # of normal motion
        self.generator = getattr(self.detector.scorer, "generator", None)  # None: the recipe has none

    def __repr__(self) -> str:
        return f"svdgan.Model({str(self.path)!r}: {self.detector.describe()})"

    @staticmethod
    def _as_rgb(frames: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
        """(N, H, W, 3) or (N, H, W) uint8 -> N (H, W, 3) RGB frames."""
        frames = [np.asarray(f) for f in frames]
        if not frames:
            raise UserError("no frames to score")
        for f in frames:
            if f.dtype != np.uint8 or f.ndim not in (2, 3) or (f.ndim == 3 and f.shape[2] != 3):
                raise UserError(f"frames must be (H, W, 3) RGB or (H, W) grey uint8, got {f.dtype} {f.shape}")
        return [np.repeat(f[:, :, None], 3, 2) if f.ndim == 2 else f for f in frames]

    def score(self, frames: np.ndarray | Sequence[np.ndarray], normalize_with: str = NORMALIZE) -> np.ndarray:
        """Anomaly scores of consecutive frames of one video, each from the frames up to it (the same
        scores `svdgan evaluate` and `svdgan detect` give). normalize_with: 'train' (1.0 = the
        worst normal frame), 'video' (min-max over these frames) or 'none' (raw)."""
        if normalize_with not in NORMALIZATIONS:
            raise UserError(f"normalize_with must be one of {', '.join(NORMALIZATIONS)}")
        if normalize_with == "train":
            require_stats(self.stats, self.path)
        results = self.detector.score_video(self._as_rgb(frames), normalised=normalize_with == "train")
        if normalize_with == "train":
            return np.array([r.score for r in results])
        return normalize(np.array([r.raw for r in results]), normalize_with)

    def stream(self, source: str | Source, threshold: float = THRESHOLD, min_frames: int = MIN_FRAMES,
               max_frames: int | None = None, end_frames: int = END_FRAMES) -> Iterator[ScoredFrame]:
        """Score a video file, frame folder, camera index ('0') or URL frame by frame as it is read;
        each result's `anomalous` says whether an event (as `svdgan detect` raises it) is open."""
        source = open_source(source) if isinstance(source, str) else source
        stream = self.detector.open(source.name)
        tracker = EventTracker(source.name, threshold, min_frames, end_frames)
        try:
            for count, frame in enumerate(source.frames()):
                if max_frames is not None and count >= max_frames:
                    return
                result = self.detector.score([(stream, frame)])[0]
                tracker.update(result)
                yield result
        finally:
            self.detector.close(stream)


def load(path: str | Path | None = None, mode: str = MODE, precision: str = PRECISION) -> Model:
    """A model file from `svdgan train` or `svdgan calibrate`; None: the shipped UCSD Ped2 model.
    mode and precision apply to a recipe with a generator only (exact: its last T frames; fast: its
    state carried)."""
    return Model(path, mode, precision)


def evaluate(model: Model | str | Path | None, data: str | Path, out: str | Path | None = None,
             normalize: str = NORMALIZE, ground_truth: str | Path | None = None) -> dict[str, Any]:
    """Score every test frame of a dataset (any layout `svdgan evaluate` reads) and return the metrics
    (micro_auc, macro_auc, eer, per_video, ...). The report (scores.csv, plots) goes to `out` if given."""
    if not isinstance(model, Model):
        model = load(model)
    with tempfile.TemporaryDirectory() as tmp:
        return evaluate_checkpoint(model.path, data, out or tmp, normalize, ground_truth, progress=False,
                                   mode=model.mode, precision=model.precision)

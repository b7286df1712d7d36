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
from svdgan.scoring.fit import learn_frames, learn_source
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
        self.generator = getattr(self.detector.scorer, "generator", None)  # None: the recipe has none

    @property
    def memory(self) -> Any:
        """The memory of normal motion (a MotionMemory), with what it was taught; None: the model has none."""
        return self.detector.memory

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
               max_frames: int | None = None, end_frames: int = END_FRAMES, learn: str | int | None = None
               ) -> Iterator[ScoredFrame]:
        """Score a video file, frame folder, camera index ('0') or URL frame by frame as it is read;
        each result's `anomalous` says whether an event (as `svdgan detect` raises it) is open.
        `learn`: the source's first frames (300) or seconds ('90s', '2m') are learnt as its normal
        first and not scored (`svdgan detect --learn`), for a camera the model was not fitted on."""
        if learn is not None:
            learn_frames(learn, 1.0)  # a bad value is refused before the source opens
        source = open_source(source) if isinstance(source, str) else source
        stream = self.detector.open(source.name, normalised=learn is None)
        tracker = EventTracker(source.name, threshold, min_frames, end_frames)
        gathered: list[np.ndarray] | None = [] if learn is not None else None
        try:
            for count, frame in enumerate(source.frames()):
                if max_frames is not None and count >= max_frames:
                    return
                if gathered is not None:
                    gathered.append(frame.image)
                    if len(gathered) >= learn_frames(learn, source.fps):
                        learn_source(self.detector, stream, gathered)
                        gathered = None
                    continue
                result = self.detector.score([(stream, frame)])[0]
                tracker.update(result)
                yield result
        finally:
            self.detector.close(stream)

    def learn(self, frames: np.ndarray | Sequence[np.ndarray]) -> None:
        """These consecutive frames of this camera are normal (a false alarm's, say): the memory holds
        their motion from the next frame scored on, so the same footage scores as normal. `undo()` takes
        the last teaching back; `save(path)` keeps it (the same as `svdgan teach`)."""
        self.detector.teach(self._as_rgb(frames))

    def undo(self) -> None:
        """Take back the last `learn`."""
        self.detector.undo()

    def save(self, path: str | Path) -> Path:
        """The model file with what it was taught, written atomically; returns its path."""
        return self.detector.save(path)


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

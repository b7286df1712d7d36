"""The Python API: load a model, score frames, stream a source, evaluate on a dataset.

    import svdgan
    model = svdgan.load()                          # the shipped UCSD Ped2 model, or load("run/checkpoint.pt")
    scores = model.score(frames)                   # (N, H, W, 3) uint8 -> (N,) normalised scores
    for result in model.stream("rtsp://cam/1"):    # live: one result per frame
        ...
    report = svdgan.evaluate(model, "data/ucsd_ped2")

The command line calls the same code: `svdgan evaluate` runs `evaluate_checkpoint`, `svdgan
detect` the `StreamScorer` and `Alarm` that `Model.stream` runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .alerts import Alarm
from .checkpoint import default_checkpoint, load_generator
from .data.frames import resize, to_model_range
from .errors import UserError
from .evaluation import evaluate_checkpoint
from .motion import SourceScores, load_memory, to_grey
from .precision import resolve_precision
from .scoring import normalize
from .sources import Source, open_source
from .stream import StreamScorer, stream_video


class StreamResult(NamedTuple):
    """One scored frame of `Model.stream`."""

    source: str  # the source's name
    frame: int  # 0-based index in the stream
    time: float  # seconds into the file, or since a live source was opened
    score: float  # normalised: 1.0 = the worst normal training frame
    anomalous: bool  # the alert state: score above threshold for min_frames frames in a row
    image: np.ndarray  # (H, W, 3) uint8 RGB, the frame as read
    error_map: np.ndarray  # (S, S) float32 per-pixel squared error at model size


class Model:
    """A trained generator with its configuration and normal-score statistics, ready to score."""

    def __init__(self, path: str | Path | None = None, mode: str = "exact", precision: str = "auto"):
        if mode not in ("exact", "fast"):
            raise UserError("mode must be exact or fast")
        self.path = default_checkpoint(path)
        self.generator, self.config, payload = load_generator(self.path)
        self.stats: dict[str, float] | None = payload.get("score_stats")
        self.memory = load_memory(payload, self.config)  # of normal motion, fused with the generator's score
        self.mode = mode
        self.precision = resolve_precision(precision, announce=False)

    def __repr__(self) -> str:
        m = self.config.model
        return f"svdgan.Model({str(self.path)!r}, {m.size} px, {m.channels} channel(s), T={m.clip_len}, {self.mode})"

    def _scorer(self) -> StreamScorer:
        return StreamScorer(self.generator, self.config, self.mode, self.precision)

    def _as_rgb(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
        """(N, H, W, 3) or (N, H, W) uint8 -> N (H, W, 3) RGB frames."""
        frames = [np.asarray(f) for f in frames]
        if not frames:
            raise UserError("no frames to score")
        for f in frames:
            if f.dtype != np.uint8 or f.ndim not in (2, 3) or (f.ndim == 3 and f.shape[2] != 3):
                raise UserError(f"frames must be (H, W, 3) RGB or (H, W) grey uint8, got {f.dtype} {f.shape}")
        return [np.repeat(f[:, :, None], 3, 2) if f.ndim == 2 else f for f in frames]

    def score(self, frames: np.ndarray | Sequence[np.ndarray], normalize_with: str = "train") -> np.ndarray:
        """Anomaly scores of consecutive frames of one video, each from its causal window (the same
        scores `svdgan evaluate` and `svdgan detect` give). normalize_with: 'train' (1.0 = the
        worst normal training frame), 'video' (min-max over these frames) or 'none' (raw error)."""
        if normalize_with == "train" and not self.stats:
            raise UserError(f"{self.path} has no normal-score statistics: finish training or run svdgan calibrate")
        rgb = self._as_rgb(frames)
        raw = stream_video(self._scorer(), np.stack([resize(f, self.config.model.size, self.config.model.channels)
                                                     for f in rgb]))
        stats = self.stats
        if self.memory is not None and self.memory.fits(rgb[0].shape):
            greys = np.stack([to_grey(f, self.memory.config.height) for f in rgb])
            raw = self.memory.fuse(raw, self.memory.video_scores(greys, self.config.score.smooth))
        elif self.memory is not None:  # another camera view: the generator alone, with its own statistics
            stats = self.memory.generator_stats
        return normalize(raw, normalize_with, stats)

    def stream(self, source: str | Source, threshold: float = 1.0, min_frames: int = 3,
               max_frames: int | None = None) -> Iterator[StreamResult]:
        """Score a video file, frame folder, camera index ('0') or URL frame by frame as it is read."""
        if not self.stats:
            raise UserError(f"{self.path} has no normal-score statistics: finish training or run svdgan calibrate")
        source = open_source(source) if isinstance(source, str) else source
        scorer, alarm = self._scorer(), Alarm(threshold, min_frames)
        scoring = SourceScores(self.memory, self.stats, self.config.score.smooth, source.name)
        size, channels = self.config.model.size, self.config.model.channels
        for count, frame in enumerate(source.frames()):
            if max_frames is not None and count >= max_frames:
                return
            result = scorer.push(to_model_range(resize(frame.image, size, channels)[None]))
            score = scoring.score(result.scores[0], frame.image)
            yield StreamResult(source.name, frame.index, frame.time, score, alarm.update(score), frame.image,
                               result.errors[0, 0].float().numpy())


def load(path: str | Path | None = None, mode: str = "exact", precision: str = "auto") -> Model:
    """A model file from `svdgan train` or `svdgan calibrate`; None: the shipped UCSD Ped2 model.
    mode: 'exact' (the ConvLSTM over the last T frames) or 'fast' (its state carried)."""
    return Model(path, mode, precision)


def evaluate(model: Model | str | Path | None, data: str | Path, out: str | Path | None = None,
             normalize: str = "train", ground_truth: str | Path | None = None) -> dict[str, Any]:
    """Score every test frame of a dataset (any layout `svdgan evaluate` reads) and return the metrics
    (micro_auc, macro_auc, eer, per_video, ...). The report (scores.csv, plots) goes to `out` if given."""
    if not isinstance(model, Model):
        model = load(model)
    with tempfile.TemporaryDirectory() as tmp:
        return evaluate_checkpoint(model.path, data, out or tmp, normalize, ground_truth, progress=False,
                                   mode=model.mode, precision=model.precision)

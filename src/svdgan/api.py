"""The Python API: load a model, score frames, stream a source, evaluate on a dataset.

    import svdgan
    model = svdgan.load()                          # the shipped UCSD Ped2 model, or load("run/checkpoint.pt")
    scores = model.score(frames)                   # (N, H, W, 3) uint8 -> (N,) normalised scores
    for result in model.stream("rtsp://cam/1"):    # live: one result per frame
        ...
    report = svdgan.evaluate(model, "data/ucsd_ped2")

The command line calls the same code: `svdgan evaluate` runs `evaluate_checkpoint`; `svdgan
detect`, `svdgan serve` and `Model.stream` all score through the one `LivePipeline`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from svdgan.data.frames import resize
from svdgan.errors import UserError
from svdgan.evaluation.report import evaluate_checkpoint
from svdgan.live.alerts import END_FRAMES
from svdgan.live.pipeline import LiveModel, LivePipeline, ScoredFrame
from svdgan.memory.flow import to_grey
from svdgan.scoring.fusion import scoring_for_view
from svdgan.scoring.normalise import normalize, require_stats
from svdgan.scoring.stream import StreamScorer, stream_video
from svdgan.sources.video import Source, open_source
from svdgan.utils.precision import resolve_precision


class Model:
    """A trained generator with its configuration and normal-score statistics, ready to score."""

    def __init__(self, path: str | Path | None = None, mode: str = "exact", precision: str = "auto"):
        if mode not in ("exact", "fast"):
            raise UserError("mode must be exact or fast")
        live = LiveModel.load(path)  # the same loading as `svdgan detect` and serve
        self.path, self.generator, self.config = live.path, live.generator, live.config
        self.stats: dict[str, float] | None = live.stats
        self.memory = live.memory  # of normal motion, fused with the generator's score
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
        stats = require_stats(self.stats, self.path) if normalize_with == "train" else self.stats
        rgb = self._as_rgb(frames)
        raw = None  # the memory alone scores (score.generator false), or the generator with it:
        if self.config.score.generator:
            raw = stream_video(self._scorer(), np.stack([resize(f, self.config.model.size, self.config.model.channels)
                                                         for f in rgb]))
        memory, stats = scoring_for_view(self.memory, stats, rgb[0].shape, str(self.path))
        if memory is not None:
            greys = np.stack([to_grey(f, memory.config.height) for f in rgb])
            raw = memory.fuse(raw, memory.video_scores(greys, self.config.score.smooth))
        return normalize(raw, normalize_with, stats)

    def stream(self, source: str | Source, threshold: float = 1.0, min_frames: int = 3,
               max_frames: int | None = None, end_frames: int = END_FRAMES) -> Iterator[ScoredFrame]:
        """Score a video file, frame folder, camera index ('0') or URL frame by frame as it is read."""
        live = LiveModel(self.path, self.generator, self.config, self.stats, self.memory)
        pipeline = LivePipeline(live, self._scorer())
        source = open_source(source) if isinstance(source, str) else source
        stream = pipeline.add_source(source.name, threshold, min_frames, end_frames=end_frames)
        for count, frame in enumerate(source.frames()):
            if max_frames is not None and count >= max_frames:
                return
            yield pipeline.score([(stream, frame)])[0]


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

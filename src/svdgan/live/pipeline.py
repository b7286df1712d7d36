"""The one live pipeline: the newest frame of each of many sources in, its score and alarm state out.

`svdgan detect`, `Model.stream` and `svdgan serve` all score through `LivePipeline.score`: the
frames are resized to the model, pushed through the streaming scorer as one batch, each fused
with its source's memory of normal motion (`scoring_for_view`'s rule where the memory does not
fit the view), normalised with normal statistics, and passed to its source's alarm.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch

from svdgan.config import Config
from svdgan.data.frames import resize, to_model_range
from svdgan.live.alerts import END_FRAMES, Alarm
from svdgan.memory.bank import MotionMemory, load_memory
from svdgan.memory.explain import Why
from svdgan.model.checkpoint import default_checkpoint, load_generator
from svdgan.model.generator import Generator
from svdgan.scoring.fusion import SourceScores
from svdgan.scoring.normalise import require_stats
from svdgan.scoring.stream import BatchScores
from svdgan.sources.video import Frame


class StreamingScorer(Protocol):
    """What the pipeline needs of a generator backend (`StreamScorer`, `OnnxStreamScorer`)."""

    config: Config

    def push(self, frames: torch.Tensor, streams: list[int] | None = None) -> BatchScores: ...

    def reset(self, stream: int) -> None: ...

    def set_ignore(self, stream: int, keep: torch.Tensor | None) -> None: ...


class ScoredFrame(NamedTuple):
    """One scored frame of a live source."""

    source: str  # the source's name
    frame: int  # 0-based index in the stream
    time: float  # seconds into the file, or since a live source was opened
    score: float  # normalised: 1.0 = the worst normal training frame
    anomalous: bool  # the alert state: raised by min_frames scores above threshold, lowered by end_frames not
    image: np.ndarray  # (H, W, 3) uint8 RGB, the frame as read
    error_map: np.ndarray  # (S, S) float32 per-pixel squared error at model size (zeros: no generator)
    why: Why | None = None  # an anomalous frame's: what made it unusual and where (from the memory of normal motion)


@dataclass
class LiveModel:
    """A model file loaded for live scoring: its generator, config, normal statistics and memory."""

    path: Path
    generator: Generator
    config: Config
    stats: dict[str, Any] | None  # none: every source needs statistics of its own
    memory: MotionMemory | None

    @classmethod
    def load(cls, path: str | Path | None) -> LiveModel:
        """`path`, or the shipped model when None."""
        path = default_checkpoint(path)
        generator, config, payload = load_generator(path)
        return cls(path, generator, config, payload.get("score_stats"), load_memory(payload, config))


@dataclass
class _Source:
    name: str
    scores: SourceScores
    alarm: Alarm


class LivePipeline:
    """Scores frames of many sources, each a stream of one scorer (their frames go as one batch)."""

    def __init__(self, model: LiveModel, scorer: StreamingScorer):
        self.model, self.scorer = model, scorer
        self.sources: dict[int, _Source] = {}

    def add_source(self, name: str, threshold: float = 1.0, min_frames: int = 3, ignore: torch.Tensor | None = None,
                   stats: dict[str, Any] | None = None, memory: MotionMemory | None | str = "model",
                   end_frames: int = END_FRAMES) -> int:
        """A new source; returns its stream id. ignore (S, S): 1 where scored, 0 where not. `stats`
        and `memory` replace the model's for this source (a camera calibrated on its own footage);
        an alert is raised after `min_frames` scores above `threshold` and lowered after `end_frames`
        scores that are not."""
        stream = len(self.sources)
        memory = self.model.memory if memory == "model" else memory
        stats = require_stats(stats or self.model.stats, self.model.path)
        scores = SourceScores(memory, stats, self.model.config.score.smooth, name)
        if ignore is not None:
            self.scorer.set_ignore(stream, ignore)
            scores.set_ignore(ignore)
        self.sources[stream] = _Source(name, scores, Alarm(threshold, min_frames, end_frames))
        return stream

    def score(self, frames: list[tuple[int, Frame]]) -> list[ScoredFrame]:
        """(stream id, frame as read) of sources with a new frame -> their scored frames, in order."""
        size, channels = self.model.config.model.size, self.model.config.model.channels
        result = None
        if self.model.config.score.generator:  # otherwise the memory alone scores: the generator is not run
            x = to_model_range(np.stack([resize(f.image, size, channels) for _, f in frames]))
            result = self.scorer.push(x, [stream for stream, _ in frames])
        scored = []
        for j, (stream, frame) in enumerate(frames):
            source = self.sources[stream]
            score = source.scores.score(None if result is None else result.scores[j], frame.image)
            errors = np.zeros((size, size), np.float32) if result is None else result.errors[j, 0].float().numpy()
            anomalous = source.alarm.update(score)
            why = source.scores.why if anomalous else None  # worded only for the frames that need it
            scored.append(ScoredFrame(source.name, frame.index, frame.time, score, anomalous, frame.image, errors, why))
        return scored

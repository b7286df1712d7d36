"""The Detector: a model file ready to score the frames of many sources, one frame at a time.

Every caller scores through it: `svdgan evaluate` (the same path run over a dataset's files),
`svdgan detect`, the Python API, `svdgan serve`, the benchmarks and the demo. A frame's way:

    frame as read -> grey -> optical flow -> cells -> nearest normal cells (the memory of normal
    motion; with its options, the looks of the cells that move and the objects)
                  -> with a generator (a recipe that has one): the SVD-GAN's error, batched over sources
    -> the parts fused, each in standard deviations of its normal scores -> normalised with the
       normal footage's statistics (1.0 = the worst normal frame) -> ScoredFrame, with why and where.

A source's state (its previous frame, its recent scores, its generator window) lives in the
Detector under the stream id `open` gives; `score` takes the newest frame of any number of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from svdgan.config import Config, apply_overrides, config_from_dict
from svdgan.data.frames import resize, to_model_range
from svdgan.defaults import MODE, PRECISION
from svdgan.errors import UserError
from svdgan.memory.bank import MotionMemory, MotionStream
from svdgan.memory.explain import Why
from svdgan.model.checkpoint import default_checkpoint, generator_from, load_checkpoint, save_checkpoint
from svdgan.scoring.fusion import scoring_for_view
from svdgan.scoring.normalise import normalize, require_stats, stats_match
from svdgan.scoring.stream import MODES, BatchScores, StreamScorer
from svdgan.sources.video import Frame
from svdgan.utils.clock import NO_CLOCK, StageClock
from svdgan.utils.precision import PRECISIONS, choose_precision

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the frame


class GeneratorScorer(Protocol):
    """What the Detector needs of a generator backend (`StreamScorer`, deploy's `OnnxStreamScorer`)."""

    config: Config

    def push(self, frames: torch.Tensor, streams: list[int] | None = None) -> BatchScores: ...

    def reset(self, stream: int) -> None: ...

    def set_ignore(self, stream: int, keep: torch.Tensor | None) -> None: ...


@dataclass
class ScoredFrame:
    """One scored frame of a source."""

    source: str  # the source's name
    frame: int  # 0-based index in the stream
    time: float  # seconds into the file, or since a live source was opened
    score: float  # normalised with normal statistics: 1.0 = the worst normal frame (raw where it has none)
    raw: float  # before normalisation: the fused score (the memory's, in standard deviations of normal ones)
    image: np.ndarray  # (H, W, 3) uint8 RGB, the frame as read
    error_map: np.ndarray | None = None  # (S, S) the generator's per-pixel squared error; None: no generator
    anomalous: bool = False  # set by the source's EventTracker: an event is open at this frame
    explain: Callable[[], Why | None] | None = field(default=None, repr=False)
    cells: torch.Tensor | None = field(default=None, repr=False)  # (D, gh, gw) its motion; None: no memory

    @functools.cached_property
    def why(self) -> Why | None:
        """What made the frame unusual and where (from the memory; None where nothing points anywhere),
        worded when first asked."""
        return None if self.explain is None else self.explain()


def ignore_mask(boxes: Sequence[Box], size: int) -> torch.Tensor | None:
    """Regions not scored, as fractions of the frame -> (size, size), 1 where scored, 0 where not."""
    if not boxes:
        return None
    keep = torch.ones(size, size)
    for x0, y0, x1, y1 in boxes:
        keep[int(y0 * size):int(np.ceil(y1 * size)), int(x0 * size):int(np.ceil(x1 * size))] = 0
    return keep


@dataclass
class _Source:
    name: str
    stats: dict[str, Any] | None
    memory: MotionMemory | None  # until the first frame: the memory offered; then the one that fits, or None
    keep: torch.Tensor | None
    motion: MotionStream | None = None
    decided: bool = False  # scoring_for_view's rule applied (at the first frame)


class Detector:
    """A model file's memory, normal statistics and (where its recipe has one) generator, scoring frames."""

    def __init__(self, path: Path, config: Config, payload: dict[str, Any], scorer: GeneratorScorer | None = None):
        self.path, self.config, self.payload = path, config, payload
        self.stats: dict[str, Any] | None = payload.get("score_stats")
        self.memory = MotionMemory.from_payload(payload.get("motion"), config.memory)  # None: each source brings one
        self.scorer = scorer  # the generator's streaming scorer, None where the recipe has no generator
        self.note: str | None = None  # which precision "auto" chose, and why: for the caller to say once
        self.sources: dict[int, _Source] = {}
        self._next = 0

    @classmethod
    def load(cls, path: str | Path | None = None, mode: str = MODE, precision: str = PRECISION,
             score: Sequence[str] = (), scorer: Callable[[Detector], GeneratorScorer] | None = None,
             strict: bool = True) -> Detector:
        """A model file (None: the shipped one). `mode` and `precision` are a generator's: with `strict`,
        a model without one refuses anything but the defaults, so no option silently does nothing
        (serve's site-wide settings are not strict: they apply to the cameras whose model has one).
        `score`: score.* overrides, which the statistics must match. `scorer` builds another
        generator backend (deploy's onnxruntime scorer)."""
        path = default_checkpoint(path)
        payload = load_checkpoint(path)
        try:
            config = config_from_dict(payload["config"])
        except (KeyError, AttributeError, UserError) as exc:
            raise UserError(f"checkpoint {path} does not match svdgan's model: {str(exc)[:200]}") from None
        for item in score:
            if item.strip().partition(".")[0] != "score":
                raise UserError(f"only score.* settings can change here (the rest describe the fitted model), "
                                f"got {item!r}")
        apply_overrides(config, list(score))
        if mode not in MODES:
            raise UserError(f"mode must be one of {', '.join(MODES)}")
        if precision not in PRECISIONS:
            raise UserError(f"precision must be one of {', '.join(PRECISIONS)}")
        if not config.score.generator and strict and ((mode, precision) != (MODE, PRECISION) or scorer is not None):
            raise UserError(f"{path} scores with its memory of normal motion alone: a mode, a precision and "
                            "a backend are a generator's options (configs/paper.yaml trains one)")
        payload["config"] = config.to_dict()  # with the score overrides
        return cls.from_payload(path, payload, mode, precision, scorer)

    @classmethod
    def from_payload(cls, path: Path, payload: dict[str, Any], mode: str = MODE, precision: str = PRECISION,
                     scorer: Callable[[Detector], GeneratorScorer] | None = None) -> Detector:
        """A model file's contents (config, statistics, memory, generator weights) as a Detector."""
        config = config_from_dict(payload["config"])
        detector = cls(path, config, payload)
        if not config.score.generator:
            return detector
        if scorer is not None:
            detector.scorer = scorer(detector)
        else:
            chosen, detector.note = choose_precision(precision)
            detector.scorer = StreamScorer(generator_from(payload, config, path), config, mode, chosen)
        return detector

    def __repr__(self) -> str:
        return f"Detector({str(self.path)!r}, {self.describe()})"

    def describe(self) -> str:
        """What scores, in a few words: the memory's parts and the generator, if there is one."""
        parts = [] if self.memory is None else ["memory of normal motion" if p == "cells" else p
                                                for p in self.memory.parts]
        if self.scorer is not None:
            parts.append(f"the SVD-GAN's generator ({self.config.model.size} px)")
        return " + ".join(parts)

    def stats_match(self) -> bool:
        """Whether the model's statistics were computed with its score options."""
        return stats_match(self.stats, self.config, self.memory is not None)

    # --- sources ---------------------------------------------------------------------------------

    def open(self, name: str, ignore: Sequence[Box] = (), stats: dict[str, Any] | None = None,
             memory: MotionMemory | None = None, normalised: bool = True) -> int:
        """A new source; returns its stream id. `ignore`: regions not scored. `stats` and `memory`
        replace the model's for this source (a camera fitted on its own footage). `normalised`
        False: scores may be raw where the model has no statistics (per-video normalisation)."""
        stats = stats or self.stats
        if memory is None and self.memory is None and self.scorer is None:
            raise UserError(f"{self.path} has no memory of normal motion: fit one on this camera's normal footage "
                            "(`svdgan train`, or `svdgan calibrate` a model)")
        if normalised:
            require_stats(stats, self.path)
        stream, self._next = self._next, self._next + 1
        keep = ignore_mask(ignore, self.config.model.size)
        self.sources[stream] = _Source(name, stats, memory or self.memory, keep)
        if self.scorer is not None and keep is not None:
            self.scorer.set_ignore(stream, keep)
        return stream

    def close(self, stream: int) -> None:
        """Forget a source (its frames, recent scores and generator window)."""
        self.sources.pop(stream, None)
        if self.scorer is not None:
            self.scorer.reset(stream)
            self.scorer.set_ignore(stream, None)

    def replace(self, stream: int, stats: dict[str, Any], memory: MotionMemory | None) -> None:
        """A source's statistics and memory replaced (refitted on its own footage), from its next frame."""
        source = self.sources[stream]
        self.sources[stream] = _Source(source.name, stats, memory, source.keep)

    # --- teaching --------------------------------------------------------------------------------

    def teach(self, images: Sequence[np.ndarray], stream: int | None = None) -> None:
        """These consecutive RGB frames are normal: the memory also holds their motion from the next frame
        on. `stream` None: the model's memory (and every source scoring with it); a stream id: that
        source's memory alone (a camera fitted on its own footage). `undo` takes it back."""
        memory = self._memory_of(stream)
        self.teach_cells(memory.frame_cells(list(images)), stream)

    def teach_cells(self, cells: torch.Tensor, stream: int | None = None, label: str | None = None) -> None:
        """Motion cells (N, D, gh, gw) that scored frames carried (`ScoredFrame.cells`) taught as normal,
        under `label` (serve: the event they came from), which `undo_label` takes back."""
        self._set_memory(self._memory_of(stream).taught_with(cells, label), stream)

    def undo_label(self, label: str, stream: int | None = None) -> None:
        """Take back the teaching labelled `label`."""
        self._set_memory(self._memory_of(stream).without_teaching(label), stream)

    def undo(self, stream: int | None = None) -> None:
        """Take back the last teaching of the model's memory, or of one source's."""
        self._set_memory(self._memory_of(stream).without_teaching(), stream)

    def memory_of(self, stream: int | None = None) -> MotionMemory | None:
        """The memory a source scores with (None: the model's), taught or not."""
        return self.memory if stream is None else self.sources[stream].memory

    def _memory_of(self, stream: int | None) -> MotionMemory:
        memory = self.memory_of(stream)
        if memory is None:
            raise UserError(f"{self.path} has no memory of normal motion to teach: fit one (`svdgan train`)")
        return memory

    def _set_memory(self, memory: MotionMemory, stream: int | None) -> None:
        if stream is None:
            old, self.memory = self.memory, memory
            self.payload["motion"] = memory.to_payload()
            sources = [s for s in self.sources.values() if s.memory is old]
        else:
            sources = [self.sources[stream]]
        for source in sources:
            source.memory = memory
            if source.motion is not None:
                source.motion.memory = memory  # its previous frame and recent scores carry on

    def save(self, path: str | Path) -> Path:
        """The model file as it is now (with what it was taught), written atomically."""
        path = Path(path)
        save_checkpoint(path, self.payload)
        return path

    # --- scoring ---------------------------------------------------------------------------------

    def score(self, frames: Sequence[tuple[int, Frame]], clock: StageClock = NO_CLOCK) -> list[ScoredFrame]:
        """(stream id, frame as read) of sources with a new frame -> their scored frames, in order.
        Their generator errors are computed as one batch; `clock` times each stage."""
        clock.start()
        generated = None
        if self.scorer is not None:
            size, channels = self.config.model.size, self.config.model.channels
            x = to_model_range(np.stack([resize(f.image, size, channels) for _, f in frames]))
            generated = self.scorer.push(x, [stream for stream, _ in frames])
            clock.lap("generator")
        scored = []
        for j, (stream, frame) in enumerate(frames):
            source = self.sources[stream]
            raw = None if generated is None else np.array([generated.scores[j]])
            motion = self._motion(source, frame.image)
            if motion is not None:
                raw = source.memory.fuse(raw, np.array([motion.push(frame.image, clock)]))
            score = float(raw[0]) if source.stats is None else float(normalize(raw, "train", source.stats)[0])
            explain = None if motion is None else functools.partial(motion.explain, motion.explained)
            errors = None if generated is None else generated.errors[j, 0].float().numpy()
            scored.append(ScoredFrame(source.name, frame.index, frame.time, score, float(raw[0]), frame.image,
                                      errors, explain=explain, cells=None if motion is None else motion.cells))
            clock.lap("score")
        return scored

    def _motion(self, source: _Source, image: np.ndarray) -> MotionStream | None:
        """The source's memory stream, decided at its first frame by scoring_for_view's rule."""
        if not source.decided:
            source.decided = True
            if source.memory is not None:
                source.memory, source.stats = scoring_for_view(source.memory, source.stats, image.shape, source.name)
            if source.memory is not None:
                source.motion = source.memory.stream(self.config.score.smooth)
                source.motion.set_ignore(source.keep)
        return source.motion

    def score_video(self, images: Iterable[np.ndarray], name: str = "video", normalised: bool = True,
                    fps: float | None = None) -> Iterator[ScoredFrame]:
        """Every frame of one video scored as a live source of its own, as it is read: what `svdgan
        evaluate` gives it, and `svdgan detect` on the same file."""
        stream = self.open(name, normalised=normalised)
        try:
            for t, image in enumerate(images):
                yield self.score([(stream, Frame(t, t / fps if fps else float(t), image))])[0]
        finally:
            self.close(stream)

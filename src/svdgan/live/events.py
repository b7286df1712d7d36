"""Events: runs of frames whose score stays above a threshold, the one definition `svdgan detect`,
`svdgan serve` and the event benchmarks share.

An event starts once `min_frames` frames in a row score above the threshold (it begins at the first
of them), takes in every later frame above it, and ends once `end_frames` frames in a row do not (it
ends at the last frame above): a short dip inside one anomaly does not split it. Its peak is its
highest-scoring frame, whose reason and box it gives, and whose image a snapshot shows. An event
longer than `max_seconds` is ended and the next one starts at the next frame above the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from svdgan.defaults import END_FRAMES, MIN_FRAMES, THRESHOLD
from svdgan.errors import UserError
from svdgan.scoring.detector import ScoredFrame


@dataclass
class Event:
    source: str
    start_frame: int  # the first frame above the threshold
    start_time: float  # seconds, the source's clock (a file's position, a live source's time since opening)
    end_frame: int  # the last frame above it so far
    end_time: float
    peak: ScoredFrame  # the highest-scoring frame so far
    ended: bool = False

    @property
    def peak_frame(self) -> int:
        return self.peak.frame

    @property
    def peak_score(self) -> float:
        return self.peak.score

    def to_dict(self) -> dict[str, Any]:
        """The event as `svdgan detect --events` writes it, one JSON line."""
        why = self.peak.why
        return {"source": self.source, "start_frame": self.start_frame, "end_frame": self.end_frame,
                "peak_frame": self.peak_frame, "peak_score": round(float(self.peak_score), 6),
                "start_time": round(self.start_time, 4), "end_time": round(self.end_time, 4),
                "reason": None if why is None else why.reason, "box": None if why is None else list(why.box)}


@dataclass
class Change:
    """What one frame did to its source's events: `kind` is "start", "peak" (a new highest frame of
    the open event) or "end"."""

    kind: str
    event: Event


@dataclass
class EventTracker:
    source: str
    threshold: float = THRESHOLD
    min_frames: int = MIN_FRAMES
    end_frames: int = END_FRAMES
    max_seconds: float | None = None
    open: Event | None = None
    _run: list[ScoredFrame] = field(default_factory=list)  # frames above the threshold before an event starts
    _below: int = 0  # frames in a row not above it, while an event is open
    _capped: bool = False  # the last event was ended for its length: the next frame above starts one at once

    def __post_init__(self) -> None:
        if self.min_frames < 1 or self.end_frames < 1:
            raise UserError("min_frames and end_frames must be at least 1")

    def update(self, scored: ScoredFrame) -> list[Change]:
        """The next frame of the source -> what it changed; sets `scored.anomalous` (an event is open)."""
        above = scored.score > self.threshold
        changes = []
        if self.open is None:
            self._run = [*self._run, scored] if above else []
            if above and (len(self._run) >= self.min_frames or self._capped):
                changes.append(self._start())
            elif not above:
                self._capped = False
        else:
            event = self.open
            if above:
                self._below = 0
                event.end_frame, event.end_time = scored.frame, scored.time
                if scored.score > event.peak.score:
                    event.peak = scored
                    changes.append(Change("peak", event))
            else:
                self._below += 1
            if self._below >= self.end_frames:
                changes.append(self._end())
            elif self.max_seconds is not None and scored.time - event.start_time >= self.max_seconds:
                changes.append(self._end())
                self._capped = True
        scored.anomalous = self.open is not None
        return changes

    def finish(self) -> list[Change]:
        """The source ended: its open event ends with it."""
        return [self._end()] if self.open is not None else []

    def _start(self) -> Change:
        first = self._run[0]
        peak = max(self._run, key=lambda f: f.score)
        last = self._run[-1]
        self.open = Event(self.source, first.frame, first.time, last.frame, last.time, peak)
        self._run, self._below, self._capped = [], 0, False
        return Change("start", self.open)

    def _end(self) -> Change:
        event, self.open = self.open, None
        assert event is not None
        event.ended = True
        self._below = 0
        return Change("end", event)

"""`svdgan detect`: score every frame of one or more sources as it arrives, and raise events.

One reader thread per source decodes frames (`sources.reader`); the main loop takes the newest
frame of every source that has one and scores them in one batch through the Detector. Each
source's EventTracker turns its scores into events, written one JSON line each when they end;
`--scores` keeps every frame's score, `--output` the annotated video. With `--learn`, each source's
first frames are its normal footage: fitted as its own memory (`scoring.fit.learn_source`), then
the rest is scored.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import cv2
import torch

from svdgan.defaults import END_FRAMES, MIN_FRAMES, THRESHOLD
from svdgan.errors import UserError
from svdgan.live.events import EventTracker
from svdgan.live.overlay import AnnotatedVideo
from svdgan.scoring.detector import Detector, ScoredFrame
from svdgan.scoring.fit import learn_frames, learn_source
from svdgan.sources.open import open_source
from svdgan.sources.reader import SourceReader, next_frames
from svdgan.sources.video import Source
from svdgan.utils.clock import latency_summary


@dataclass
class DetectOptions:
    """What `svdgan detect` does besides scoring: its command-line options."""

    threshold: float = THRESHOLD  # 1.0: the worst normal training frame
    min_frames: int = MIN_FRAMES  # frames above the threshold in a row that start an event
    end_frames: int = END_FRAMES  # frames in a row not above the threshold that end one
    events_path: str | Path | None = None  # one JSON line per event; None: standard output
    scores_path: str | Path | None = None  # frame,score per frame (one file per source: name_k.csv)
    output: str | Path | None = None  # annotated video (one per source: name_k.ext)
    max_frames: int | None = None  # stop after this many frames in all
    threads: int = 0  # torch and OpenCV threads; 0: their defaults
    learn: str | None = None  # each source's first frames ("300") or seconds ("90s", "2m") learnt as its normal


def detect(specs: list[str], detector: Detector, options: DetectOptions | None = None) -> dict[str, Any]:
    """Run detection until every source ends (or Ctrl-C); returns the summary."""
    options = options or DetectOptions()
    if options.min_frames < 1:
        raise UserError("--min-frames must be at least 1")
    if options.end_frames < 1:
        raise UserError("--end-frames must be at least 1")
    if options.threads:
        torch.set_num_threads(options.threads)
        cv2.setNumThreads(options.threads)
    if options.learn is not None:
        learn_frames(options.learn, 1.0)  # a bad value is refused before any source opens
    sources = [open_source(spec) for spec in specs]
    streams = [detector.open(source.name, normalised=options.learn is None) for source in sources]
    trackers = [EventTracker(s.name, options.threshold, options.min_frames, options.end_frames) for s in sources]
    return _run(sources, detector, streams, trackers, options)


@dataclass
class _Tally:
    """Frames, events and latencies of a run, per source."""

    frames: list[int]
    events: list[int]
    latencies: list[float] = field(default_factory=list)
    learning: dict[int, list[Any]] = field(default_factory=dict)  # source -> its frames gathered to learn from


def _run(sources: list[Source], detector: Detector, streams: list[int], trackers: list[EventTracker],
         options: DetectOptions) -> dict[str, Any]:
    readers = [SourceReader(source) for source in sources]
    tally = _Tally([0] * len(sources), [0] * len(sources))
    start = time.perf_counter()
    interrupted = False
    n = len(sources)
    if options.learn is not None:
        tally.learning = {i: [] for i in range(n)}
    with ExitStack() as stack:
        events: IO[str] = stack.enter_context(_partial(options.events_path)) if options.events_path else sys.stdout
        scores = [csv.writer(stack.enter_context(_partial(_numbered(Path(options.scores_path), k, n))))
                  for k in range(n)] if options.scores_path else []
        for writer in scores:
            writer.writerow(["frame", "score"])
        videos = [stack.enter_context(AnnotatedVideo(_numbered(Path(options.output), k, n), options.threshold))
                  for k in range(n)] if options.output else []
        for reader in readers:
            reader.start()
        try:
            for batch in next_frames(readers):
                if detector.note:  # said with the first frame: bad input before it gets its error line alone
                    print(detector.note, file=sys.stderr)
                    detector.note = None
                batch = [item for item in batch if not _learnt(item[0], item[1], sources, detector, streams, tally,
                                                               options)]
                if not batch:
                    continue
                scored = detector.score([(streams[i], frame) for i, frame, _ in batch])
                done = time.perf_counter()
                for (i, _, arrived), result in zip(batch, scored):
                    tally.frames[i] += 1
                    tally.latencies.append(done - arrived)
                    for change in trackers[i].update(result):
                        if change.kind == "end":
                            _write_event(events, change.event.to_dict(), tally, i)
                    if scores:
                        scores[i].writerow([result.frame, f"{result.score:.8g}"])
                    if videos:
                        _annotate(videos[i], sources[i], result)
                if options.max_frames and sum(tally.frames) >= options.max_frames:
                    break
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for reader in readers:
                reader.stop.set()
            for reader in readers:  # a reader still decoding when the process exits would abort it
                reader.join(timeout=5)
        for i, tracker in enumerate(trackers):  # what was open when its source ended (or the run stopped)
            for change in tracker.finish():
                _write_event(events, change.event.to_dict(), tally, i)
        events.flush()
        for i in list(tally.learning):  # a source that ended before its normal was gathered
            print(f"svdgan: {sources[i].name}: ended after {len(tally.learning[i])} frames, before "
                  f"--learn {options.learn} was gathered: nothing scored", file=sys.stderr)
        _refuse_if_nothing_scored(readers, tally)
    return _summary(sources, readers, tally, options, time.perf_counter() - start, interrupted)


def _learnt(i: int, frame: Any, sources: list[Source], detector: Detector, streams: list[int], tally: _Tally,
            options: DetectOptions) -> bool:
    """Whether source i's frame went to learning its normal (and, with the last one needed, fit it)."""
    gathered = tally.learning.get(i)
    if gathered is None:
        return False
    gathered.append(frame.image)
    needed = learn_frames(options.learn, sources[i].fps)
    if len(gathered) >= needed:
        started = time.perf_counter()
        learn_source(detector, streams[i], gathered)
        print(f"svdgan: {sources[i].name}: learnt its normal from its first {len(gathered)} frames "
              f"({time.perf_counter() - started:.1f} s to fit); scoring from frame {frame.index + 1}", file=sys.stderr)
        del tally.learning[i]
    return True


def _write_event(stream: IO[str], record: dict[str, Any], tally: _Tally, source: int) -> None:
    stream.write(json.dumps(record) + "\n")
    stream.flush()
    tally.events[source] += 1


class _partial:  # noqa: N801 (a context manager read as a function)
    """A text file written under a hidden name and moved into place when closed; removed after an error."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise UserError(f"output folder does not exist: {self.path.parent}")
        self.tmp = self.path.with_name(f".{self.path.name}.partial")

    def __enter__(self) -> IO[str]:
        self.file = open(self.tmp, "w", newline="")
        return self.file

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> None:
        self.file.close()
        if exc_type is not None and not issubclass(exc_type, KeyboardInterrupt):
            self.tmp.unlink(missing_ok=True)
        else:
            self.tmp.replace(self.path)


def _annotate(video: AnnotatedVideo, source: Source, result: ScoredFrame) -> None:
    if video.writer is None:
        video.fps = source.fps or video.fps
    video.write(result.image, result.error_map, result.score, result.anomalous, result.why)


def _refuse_if_nothing_scored(readers: list[SourceReader], tally: _Tally) -> None:
    """A run where every source failed before a frame was scored is an error (its files are not kept)."""
    errors = [f"{r.source.name}: {r.error}" for r in readers if r.error]
    if errors and not sum(tally.frames):
        raise UserError("; ".join(errors))
    for message in errors:
        print(f"svdgan: {message}", file=sys.stderr)


def _summary(sources: list[Source], readers: list[SourceReader], tally: _Tally, options: DetectOptions,
             seconds: float, interrupted: bool) -> dict[str, Any]:
    frames = sum(tally.frames)
    return {"frames": frames, "seconds": round(seconds, 3), "fps": frames / seconds if seconds > 0 else 0.0,
            "latency_ms": latency_summary(tally.latencies), "threshold": options.threshold,
            "min_frames": options.min_frames, "end_frames": options.end_frames,
            "sources": [{"source": s.name, "frames": c, "events": e, "dropped": r.dropped}
                        for s, c, e, r in zip(sources, tally.frames, tally.events, readers)],
            "interrupted": interrupted}


def _numbered(path: Path, k: int, n: int) -> Path:
    return path if n == 1 else path.with_name(f"{path.stem}_{k}{path.suffix}")


def format_summary(summary: dict[str, Any]) -> str:
    lat = summary["latency_ms"]
    lines = [f"{summary['frames']} frames in {summary['seconds']:.1f} s: {summary['fps']:.1f} frames/s",
             f"latency per frame (ms): mean {lat['mean']:.1f}, variance {lat['var']:.1f}, p50 {lat['p50']:.1f}, "
             f"p99 {lat['p99']:.1f}, worst {lat['max']:.1f}"]
    for s in summary["sources"]:
        lines.append(f"  {s['source']}: {s['frames']} frames, {s['events']} event(s)"
                     + (f", {s['dropped']} skipped to stay live" if s["dropped"] else ""))
    return "\n".join(lines) + "\n" + json.dumps(summary)

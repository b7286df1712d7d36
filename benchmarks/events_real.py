"""Alarms on real footage, before and after an operator's feedback: what people who watch cameras judge.

    python -m benchmarks.events_real --data ../shared/data/ucsd_ped2 --heldout [--fps 10] [--checkpoint F]
                                     [--json benchmarks/results/events_real_ped2.json]

Each video of a dataset is replayed as a camera at the dataset's frame rate, frame by frame with no
frame dropped, through the Detector and the EventTracker that `svdgan serve` and `svdgan detect`
use, at their defaults. The detector is the recipe that ships fitted on the dataset's training
videos (`svdgan train`), or `--checkpoint`. An event is a true alarm where it overlaps a labelled
anomalous interval, and an interval is caught where any event overlaps it; its delay runs from
the interval's first frame to the frame that raised its first alarm (the EventTracker's "start",
0 where the alarm was already open). Normal footage for false alarms per hour: the test videos'
unlabelled frames and, with `--heldout`, every training video scored by a memory fitted without it
and normalised with statistics from the other training videos alone (each scored by a memory fitted
without it), so that its own frames set neither what it is compared with nor its threshold.

Then the feedback loop as an operator runs it: the videos are split into two fixed halves
(alternate videos of each split in the order of a hash of their names, not in name order: a
dataset's names can follow its structure, as the synthetic scene's test videos cycle through six
kinds of anomaly, so that alternate names put different kinds in each half); every false alarm of
one half is marked normal (its frames, from the one before it starts to its end, taught to the
memory), and the measures
are taken again on the other half only, never on footage that was fed back; then the halves swap.
`before` is every video untaught, `after` the two taught halves together: the same footage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from svdgan.data.datasets import discover
from svdgan.data.frames import VideoRef
from svdgan.data.groundtruth import frame_labels
from svdgan.defaults import END_FRAMES, MIN_FRAMES, THRESHOLD
from svdgan.errors import UserError
from svdgan.live.events import EventTracker
from svdgan.memory.bank import MotionMemory, video_motion
from svdgan.memory.fitting import fit_bank
from svdgan.memory.flow import to_grey
from svdgan.scoring.detector import Detector
from svdgan.scoring.fit import train
from svdgan.sources.video import Frame
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware

Span = tuple[int, int]  # first and last frame, inclusive
FPS = {"UCSD": 10.0, "Avenue": 25.0, "ShanghaiTech": 24.0}  # the datasets' published frame rates


def runs(flags: list[bool] | np.ndarray) -> list[Span]:
    """The runs of True in `flags` (the frames a labelled anomaly shows in)."""
    spans, start = [], None
    for i, flag in enumerate([*list(flags), False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            spans.append((start, i - 1))
            start = None
    return spans


def overlaps(a: Span, b: Span) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def match(events: list[Span], anomalies: list[Span]) -> dict[str, int]:
    """Events that overlap an anomaly (true), those that do not (false alarms), anomalies with an event."""
    true = sum(any(overlaps(e, a) for a in anomalies) for e in events)
    found = sum(any(overlaps(e, a) for e in events) for a in anomalies)
    return {"events": len(events), "true_events": true, "false_alarms": len(events) - true,
            "anomalies": len(anomalies), "found": found}


@dataclass
class Replayed:
    """One video replayed as a camera: its events (span, the frame that raised it) and its labels."""

    name: str
    events: list[tuple[Span, int]]
    labels: np.ndarray  # per frame, True where a labelled anomaly shows
    false_clips: list[torch.Tensor] = field(default_factory=list)  # each false alarm's cells, to teach


@dataclass
class Camera:
    """A video of the dataset and the memory it is scored with (the model's, or one without it)."""

    video: VideoRef
    memory: MotionMemory
    labels: np.ndarray | None  # None: a held-out training video, normal throughout
    stats: dict[str, Any] | None = None  # its normal-score statistics; None: the model's


def replay(detector: Detector, camera: Camera, memory: MotionMemory, fps: float) -> Replayed:
    """Every frame of the camera's video through the Detector and an EventTracker, as serve scores it."""
    images = list(camera.video.frames())
    labels = camera.labels if camera.labels is not None else np.zeros(len(images), bool)
    stream = detector.open(camera.video.name, memory=memory, stats=camera.stats)
    tracker = EventTracker(camera.video.name, THRESHOLD, MIN_FRAMES, END_FRAMES)
    raised: dict[int, int] = {}  # event start frame -> the frame it was raised at
    events: list[tuple[Span, int]] = []
    try:
        for t, image in enumerate(images):
            scored = detector.score([(stream, Frame(t, t / fps, image))])[0]
            for change in tracker.update(scored):
                if change.kind == "start":
                    raised[change.event.start_frame] = t
                elif change.kind == "end":
                    events.append(_span(change.event, raised))
        events += [_span(c.event, raised) for c in tracker.finish()]
    finally:
        detector.close(stream)
    anomalies = runs(labels)
    result = Replayed(camera.video.name, events, labels)
    for (start, end), _ in events:
        if not any(overlaps((start, end), a) for a in anomalies):  # a false alarm: what an operator marks normal
            result.false_clips.append(memory.frame_cells(images[max(start - 1, 0):end + 1]))
    return result


def _span(event: Any, raised: dict[int, int]) -> tuple[Span, int]:
    return (event.start_frame, event.end_frame), raised[event.start_frame]


def measures(replayed: list[Replayed], fps: float) -> dict[str, Any]:
    """Event precision and recall, false alarms per hour of normal footage, the mean delay, and the counts."""
    total = {"events": 0, "true_events": 0, "false_alarms": 0, "anomalies": 0, "found": 0}
    delays, normal_frames = [], 0
    for r in replayed:
        anomalies = runs(r.labels)
        for key, value in match([span for span, _ in r.events], anomalies).items():
            total[key] += value
        normal_frames += int((~r.labels).sum())
        for a in anomalies:
            first = [at for span, at in r.events if overlaps(span, a)]
            if first:
                delays.append(max(min(first) - a[0], 0) / fps)
    hours = normal_frames / fps / 3600
    return {"event_precision": total["true_events"] / max(total["events"], 1),
            "event_recall": total["found"] / max(total["anomalies"], 1),
            "false_alarms_per_hour": total["false_alarms"] / hours if hours else None,
            "mean_delay_s": float(np.mean(delays)) if delays else None,
            "normal_hours": round(hours, 4), "normal_frames": normal_frames, "videos": len(replayed), **total}


def _order(split: str, name: str) -> str:
    """A fixed order of a dataset's videos that does not follow their names."""
    return hashlib.sha256(f"{split}/{name}".encode()).hexdigest()


def taught(memory: MotionMemory, clips: list[torch.Tensor]) -> MotionMemory:
    for cells in clips:
        memory = memory.taught_with(cells)
    return memory


def cameras(data: str | Path, detector: Detector, heldout: bool, progress: bool) -> list[Camera]:
    """The test videos with the model's memory and, with `heldout`, each training video with a memory
    fitted on the others (their cells computed once)."""
    dataset = discover(data)
    if dataset.ground_truth is None:
        raise UserError(f"{data} has no ground truth: events cannot be scored against it")
    if detector.memory is None:
        raise UserError(f"{detector.path} has no memory of normal motion: feedback teaches that memory")
    found = [Camera(v, detector.memory, None) for v in dataset.test]
    for camera, truth in zip(found, dataset.ground_truth):
        camera.labels = frame_labels(truth, sum(1 for _ in camera.video.frames()), camera.video.name)
    if heldout:
        if detector.memory.parts != ["cells"] or detector.config.score.generator:
            raise UserError("--heldout refits memories of cells alone: give a model of the recipe that ships")
        config = detector.memory.config
        cells = [video_motion(np.stack([to_grey(f, config.height) for f in v.frames()]), config.cell)[0]
                 for v in tqdm(dataset.train, desc="held-out memories", unit="video", disable=not progress)]
        memories = [MotionMemory(fit_bank(cells[:i] + cells[i + 1:], config), config, detector.memory.frame_size,
                                 detector.memory.stats) for i in range(len(cells))]
        distances = [memory.video_scores(np.stack([to_grey(f, config.height) for f in v.frames()]),
                                         detector.config.score.smooth)
                     for memory, v in zip(memories, dataset.train)]  # each video's against a memory without it
        for i, (video, memory) in enumerate(zip(dataset.train, memories)):
            others = np.concatenate(distances[:i] + distances[i + 1:])
            motion = {"mean": float(others.mean()), "std": float(others.std())}
            normal = (others - motion["mean"]) / motion["std"]  # the fused score of a memory alone
            memory.stats = {**memory.stats, "motion": motion}
            stats = {**(detector.stats or {}), "min": float(normal.min()), "max": float(normal.max())}
            found.append(Camera(video, memory, None, stats))
    return found


def run(data: str | Path, checkpoint: str | None = None, heldout: bool = False, fps: float | None = None,
        progress: bool = True) -> dict[str, Any]:
    started = time.perf_counter()
    layout = discover(data).layout
    fps = fps or FPS.get(layout)
    if fps is None:
        raise UserError(f"{data} ({layout}) has no known frame rate: give --fps")
    with tempfile.TemporaryDirectory() as tmp:
        path = checkpoint or train(data, Path(tmp) / "run", progress=progress)
        detector = Detector.load(path)
    fitted = time.perf_counter() - started
    cams = cameras(data, detector, heldout, progress)
    labelled = sorted((c for c in cams if c.labels is not None), key=lambda c: _order("test", c.video.name))
    unlabelled = sorted((c for c in cams if c.labels is None), key=lambda c: _order("train", c.video.name))
    halves = [labelled[k::2] + unlabelled[k::2] for k in (0, 1)]
    bar = tqdm(total=2 * len(cams), desc="replaying", unit="video", disable=not progress)
    before: list[list[Replayed]] = [[], []]
    for k, half in enumerate(halves):
        for camera in half:
            before[k].append(replay(detector, camera, camera.memory, fps))
            bar.update()
    after: list[Replayed] = []
    for k, half in enumerate(halves):
        marked = [clip for r in before[1 - k] for clip in r.false_clips]  # the other half's false alarms
        for camera in half:
            after.append(replay(detector, camera, taught(camera.memory, marked), fps))
            bar.update()
    bar.close()
    return {"dataset": str(data), "layout": layout, "fps": fps, "model": str(checkpoint or "the shipped recipe, "
            "fitted on the dataset's training videos"), "heldout": heldout, "hardware": hardware(),
            "threshold": THRESHOLD, "min_frames": MIN_FRAMES, "end_frames": END_FRAMES,
            "taught_clips": [sum(len(r.false_clips) for r in half) for half in before],
            "false_alarms_by_video": {f"half {k}: {r.name}": len(r.false_clips) for k, half in enumerate(before)
                                      for r in half if r.false_clips},
            "before": measures(before[0] + before[1], fps), "after": measures(after, fps),
            "fit_seconds": round(fitted, 1), "seconds": round(time.perf_counter() - started, 1)}


def format_results(results: dict[str, Any]) -> str:
    lines = [describe(results["hardware"]),
             f"{results['dataset']} ({results['layout']}) at {results['fps']:g} frames/s, "
             f"{'with' if results['heldout'] else 'without'} held-out training videos; {results['model']}"]
    for name in ("before", "after"):
        m = results[name]
        fa = "-" if m["false_alarms_per_hour"] is None else f"{m['false_alarms_per_hour']:.1f}"
        delay = "-" if m["mean_delay_s"] is None else f"{m['mean_delay_s']:.2f} s"
        lines.append(f"{name:6s} precision {m['event_precision']:.2f} ({m['true_events']}/{m['events']}), recall "
                     f"{m['event_recall']:.2f} ({m['found']}/{m['anomalies']}), {m['false_alarms']} false alarms "
                     f"in {m['normal_hours'] * 60:.1f} min of normal footage = {fa}/hour, mean delay {delay}")
    lines.append(f"false alarms marked normal: {results['taught_clips'][0]} and {results['taught_clips'][1]} "
                 f"(halves); {results['seconds']:.0f} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a dataset with ground truth, in any layout svdgan reads")
    parser.add_argument("--checkpoint", help="model to replay (default: the shipped recipe fitted on --data)")
    parser.add_argument("--heldout", action="store_true",
                        help="also replay each training video against a memory fitted without it (normal footage)")
    parser.add_argument("--fps", type=float, help="the footage's frame rate (default: the layout's, e.g. UCSD 10)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    try:
        results = run(args.data, args.checkpoint, args.heldout, args.fps)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(format_results(results))
    if args.json:
        write_results(args.json, results)
        print(json.dumps({"json": str(args.json)}))


if __name__ == "__main__":
    main()

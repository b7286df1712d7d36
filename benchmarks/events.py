"""Event-level accuracy, the figure an operator lives with: synthetic cameras whose anomalies are known.

    python -m benchmarks.events [--cameras 8] [--clips 18] [--checkpoint F ...] [--recipe configs/objects.yaml ...]
                                [--end-frames N ...] [--json benchmarks/results/events.json]

Each synthetic camera (`synthetic:SEED`, as `svdgan serve` opens it with a model) is fitted on its own normal
clips as serve fits it, and its live stream is replayed, frame by frame and with no frame dropped,
through the Detector serve scores with; its events are the EventTracker's that serve and detect
raise, at their default threshold, `min_frames` and `end_frames`. Reported per model: event
precision (events that overlap an anomaly), event recall (anomalies that got an event), events per
anomaly found, false alarms per hour of footage at the cameras' frame rate, and per anomaly kind
its recall and the reasons its events give.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.events_real import match, overlaps, runs
from svdgan.config import load_config
from svdgan.defaults import END_FRAMES, MIN_FRAMES, THRESHOLD
from svdgan.errors import UserError
from svdgan.live.events import EventTracker
from svdgan.scoring.detector import Detector
from svdgan.scoring.fit import refit
from svdgan.serve.engine import CALIBRATION_CLIPS
from svdgan.sources.synthetic import SynthSource
from svdgan.sources.video import Frame
from svdgan.utils.files import write_results
from svdgan.utils.hardware import describe, hardware


def replay(detector: Detector, seed: int, clips: int, threshold: float = THRESHOLD, min_frames: int = MIN_FRAMES,
           calibration_clips: int = CALIBRATION_CLIPS, end_frames: int = END_FRAMES,
           size: tuple[int, int] = (160, 120), clip_frames: int = 80) -> dict[str, Any]:
    """One synthetic camera: its first `clips` live clips scored -> its events and anomalies."""
    source = SynthSource(f"cam{seed}", seed, size=size, clip_frames=clip_frames)
    stats, memory = refit(detector, source.normal_clips(calibration_clips))
    stream = detector.open(source.name, stats=stats, memory=memory)
    tracker = EventTracker(source.name, threshold, min_frames, end_frames)
    events: list[tuple[int, int]] = []
    shows: list[bool] = []
    reasons: dict[int, str | None] = {}
    entered: list[tuple[int, str]] = []  # (first frame of the clip it entered in, kind)
    for k, (frames, kind, labels) in enumerate(source.labelled_clips()):
        if k == clips:
            break
        if kind is not None:
            entered.append((len(shows), kind))
        showing = set(labels)
        for t, image in enumerate(frames):
            scored = detector.score([(stream, Frame(len(shows), len(shows) / source.fps, image))])[0]
            events += [(c.event.start_frame, c.event.end_frame) for c in tracker.update(scored) if c.kind == "end"]
            if scored.anomalous and scored.why is not None:
                reasons[len(shows)] = scored.why.reason
            shows.append(t in showing)
    events += [(c.event.start_frame, c.event.end_frame) for c in tracker.finish()]
    detector.close(stream)
    anomalies = [(span, [kind for start, kind in entered if start <= span[0]][-1]) for span in runs(shows)]
    per_kind = {}
    for span, kind in anomalies:
        hits = [e for e in events if overlaps(e, span)]
        said = Counter(reasons.get(f) for e in hits for f in range(e[0], e[1] + 1) if reasons.get(f))
        per_kind.setdefault(kind, []).append({"found": bool(hits), "reasons": dict(said)})
    return {"camera": seed, "frames": len(shows), **match(events, [s for s, _ in anomalies]), "kinds": per_kind}


def summarise(cameras: list[dict[str, Any]], fps: float) -> dict[str, Any]:
    total = {key: sum(c[key] for c in cameras) for key in ("frames", "events", "true_events", "false_alarms",
                                                           "anomalies", "found")}
    hours = total["frames"] / fps / 3600
    kinds: dict[str, dict[str, Any]] = {}
    for camera in cameras:
        for kind, items in camera["kinds"].items():
            entry = kinds.setdefault(kind, {"anomalies": 0, "found": 0, "reasons": Counter()})
            entry["anomalies"] += len(items)
            entry["found"] += sum(i["found"] for i in items)
            for item in items:
                entry["reasons"].update(item["reasons"])
    return {**total, "precision": total["true_events"] / max(total["events"], 1),
            "recall": total["found"] / max(total["anomalies"], 1),
            "events_per_anomaly_found": total["true_events"] / max(total["found"], 1),
            "footage_hours": round(hours, 3), "false_alarms_per_hour": round(total["false_alarms"] / hours, 1),
            "kinds": {k: {"recall": v["found"] / max(v["anomalies"], 1), "anomalies": v["anomalies"],
                          "reasons": dict(v["reasons"].most_common())} for k, v in kinds.items()}}


def recipe_detector(recipe: Path) -> Detector:
    """A recipe that scores with its memory alone, as a detector for synthetic cameras: each camera
    fits the recipe's memory on its own normal clips, so nothing of a trained model is needed."""
    config = load_config(recipe)
    if config.score.generator:
        raise UserError(f"{recipe} scores with a generator: give a model trained with it (--checkpoint)")
    return Detector.from_payload(recipe, {"config": config.to_dict()})


def run(checkpoints: list[str | None], cameras: int = 8, clips: int = 18, fps: float = 5.0, first_seed: int = 0,
        calibration_clips: int = CALIBRATION_CLIPS, recipes: list[Path] | None = None,
        end_frames: list[int] | None = None) -> dict[str, Any]:
    """Every model at every `end_frames` (default: serve's)."""
    ends = end_frames or [END_FRAMES]
    results = {"hardware": hardware(), "cameras": cameras, "first_seed": first_seed, "clips_per_camera": clips,
               "calibration_clips": calibration_clips, "fps": fps, "threshold": THRESHOLD,
               "min_frames": MIN_FRAMES, "default_end_frames": END_FRAMES, "models": []}
    models = [(c or "the shipped model", lambda c=c: Detector.load(c)) for c in checkpoints]
    models += [(str(r), lambda r=r: recipe_detector(r)) for r in recipes or []]
    for name, load in models:
        detector = load()
        for end in ends:
            started = time.perf_counter()
            per_camera = []
            for seed in range(first_seed, first_seed + cameras):
                per_camera.append(replay(detector, seed, clips, THRESHOLD, MIN_FRAMES, calibration_clips, end))
                print(json.dumps({"end_frames": end, **{k: per_camera[-1][k] for k in (
                    "camera", "events", "false_alarms", "found", "anomalies")}}), flush=True)
            results["models"].append({"model": name, "generator": detector.config.score.generator, "end_frames": end,
                                      "seconds": round(time.perf_counter() - started, 1),
                                      **summarise(per_camera, fps), "per_camera": per_camera})
    return results


def format_events(results: dict[str, Any]) -> str:
    lines = [describe(results["hardware"]),
             f"{results['cameras']} synthetic cameras x {results['clips_per_camera']} clips at {results['fps']:g} "
             f"frames/s (seeds from {results['first_seed']}, each calibrated on {results['calibration_clips']} "
             "normal clips), "
             f"threshold {results['threshold']:g}, min_frames {results['min_frames']}"]
    for m in results["models"]:
        lines.append(f"{m['model']} (generator {'on' if m['generator'] else 'off'}, end_frames "
                     f"{m.get('end_frames', 1)}): precision {m['precision']:.2f}, "
                     f"recall {m['recall']:.2f} ({m['found']}/{m['anomalies']}), {m['events']} events, "
                     f"{m['false_alarms']} false alarms = {m['false_alarms_per_hour']:g}/hour, "
                     f"{m['events_per_anomaly_found']:.2f} events per anomaly found ({m['seconds']:.0f} s)")
        for kind, k in m["kinds"].items():
            named = ", ".join(f"{r} {n}" for r, n in k["reasons"].items()) or "-"
            lines.append(f"  {kind:14s} recall {k['recall']:.2f} of {k['anomalies']}; frames named: {named}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--clips", type=int, default=18, help="live clips per camera (every third an anomaly)")
    parser.add_argument("--first-seed", type=int, default=0, help="cameras synthetic:FIRST_SEED onwards")
    parser.add_argument("--calibration-clips", type=int, default=CALIBRATION_CLIPS,
                        help="normal clips each camera is calibrated on")
    parser.add_argument("--fps", type=float, default=5.0, help="the cameras' frame rate, for false alarms per hour")
    parser.add_argument("--checkpoint", nargs="*", help="models (default: the shipped one, unless --recipe is given)")
    parser.add_argument("--recipe", nargs="*", type=Path, default=[],
                        help="recipes that score with their memory alone (e.g. configs/objects.yaml)")
    parser.add_argument("--end-frames", type=int, nargs="+",
                        help="frames in a row not above the threshold that end an event (default: serve's)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    checkpoints = args.checkpoint if args.checkpoint is not None else ([] if args.recipe else [None])
    try:
        results = run(checkpoints, args.cameras, args.clips, args.fps, args.first_seed, args.calibration_clips,
                      args.recipe, args.end_frames)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(format_events(results))
    if args.json:
        write_results(args.json, results)


if __name__ == "__main__":
    main()

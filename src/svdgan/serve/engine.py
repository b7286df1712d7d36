"""The scoring loop of `svdgan serve`: every camera's frames scored as they arrive through the Detector
(batched per model file), each camera's EventTracker turning its scores into events with a snapshot,
a clip and the motion of their frames, live frames and health kept for the web page, messages for
MQTT, and the operator's verdicts: "normal" teaches the camera's memory that event's motion.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

import svdgan.serve.models as models
from svdgan.config import Config
from svdgan.errors import UserError
from svdgan.live.events import Change, EventTracker
from svdgan.live.overlay import error_scale, mark, with_heat
from svdgan.memory.explain import Why
from svdgan.model.checkpoint import default_checkpoint
from svdgan.scoring.detector import Detector, ScoredFrame
from svdgan.scoring.fit import learn_frames, refit
from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.faults import Faults
from svdgan.serve.learning import Learner
from svdgan.serve.recorder import Recorded, Recorder, snapshot
from svdgan.serve.store import EventStore, StoreError
from svdgan.sources.open import open_source
from svdgan.sources.reader import SourceReader, next_frames
from svdgan.sources.video import Frame, Source
from svdgan.utils.clock import latency_summary
from svdgan.utils.files import atomic_write

RETENTION_EVERY_S = 30.0
STALE_S = 10.0  # a camera whose frames stop this long without an error is flagged stale
RETRY_WRITES_S = 1.0  # database writes that failed are retried this often, in order
Publish = Callable[[str, str, dict[str, Any]], None]  # (camera, kind: new/update/end, payload)


@dataclass
class Camera:
    config: CameraConfig
    source: Source
    detector: Detector  # its model file's, shared with the other cameras of that file (one batch)
    stream: int | None  # its stream in that detector; None while it learns its normal for the first time
    tracker: EventTracker
    recorder: Recorder
    scores: deque = field(default_factory=lambda: deque(maxlen=2000))  # (unix time, score)
    latencies: deque = field(default_factory=lambda: deque(maxlen=500))
    frames: int = 0
    frame_times: deque = field(default_factory=lambda: deque(maxlen=50))
    jpeg: bytes | None = None
    jpeg_version: int = 0
    event_id: int | None = None  # the open event's row
    peak: Recorded | None = None  # its peak frame
    last_update: float = 0.0
    last_touch: float = 0.0
    event_start: float = 0.0  # Unix time it opened
    reader: SourceReader | None = None
    recent_motion: deque = field(default_factory=lambda: deque(maxlen=64))  # (frame, cells) of the last frames
    event_motion: list = field(default_factory=list)  # (frame, cells) of the open event's frames
    model: str | None = None  # its own model version (storage/models/), once taught or learnt
    learner: Learner | None = None  # while it learns its normal from its own footage

    def state(self) -> tuple[str, float | None]:
        """('ok' | 'reconnecting' | 'stale' | 'ended', since when (Unix time) or None)."""
        if self.reader is not None and self.reader.ident is not None and not self.reader.is_alive():
            return "ended", None
        since = getattr(self.source, "reconnecting_since", None)
        if since is not None:
            return "reconnecting", since
        last = self.scores[-1][0] if self.scores else None
        if self.source.live and last is not None and time.time() - last > STALE_S:
            return "stale", last
        return "ok", None

    def health(self) -> dict[str, Any]:
        lat = latency_summary(list(self.latencies))
        times = list(self.frame_times)
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        last = self.scores[-1][1] if self.scores else None
        reconnects = getattr(self.source, "reconnects", 0)
        state, since = self.state()

        def finite(v: float) -> float | None:
            return None if np.isnan(v) else round(v, 2)

        learning = self.learner.progress(self.source.fps or self.config.fps) if self.learner is not None else {
            "learning": None}
        if self.learner is not None and self.stream is None and state == "ok":
            state = "learning"
        return {**learning, "camera": self.config.name, "frames": self.frames,
                "fps": round(fps, 2) if state in ("ok", "learning") else 0.0,
                "latency_ms_p50": finite(lat["p50"]), "latency_ms_p99": finite(lat["p99"]),
                "dropped": self.reader.dropped if self.reader else 0, "reconnects": reconnects,
                "score": last, "alert": self.event_id is not None, "threshold": self.config.threshold,
                "state": state, "since": since, "error": self.reader.error if self.reader else None}


# a synthetic camera's normal clips to fit it on (80 frames each): 8 chosen on synthetic cameras
# 100 to 103, where 2, 4, 8 and 16 were tried (benchmarks/results/events_calibration.json)
CALIBRATION_CLIPS = 8


class Engine:
    """Owns the cameras and the scoring thread. `publish` receives event messages (MQTT)."""

    def __init__(self, config: ServeConfig, store: EventStore, publish: Publish | None = None,
                 sources: dict[str, Source] | None = None, on_site: bool = False):
        """`sources` replaces the configured source of the cameras it names (tests, embedding).
        `on_site`: a site's worker, whose cameras are the site's (the config's are added to them) and
        are started and stopped by its leases (serve/site.py); else every camera is watched here."""
        self.config, self.store, self.publish, self.on_site = config, store, publish, on_site
        self.may_score: Callable[[], bool] | None = None  # a site's worker: False once its leases may have run out
        self._given = sources or {}
        self.cameras: dict[str, Camera] = {}
        self._detectors: dict[str, Detector] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_retention = 0.0
        self.faults = Faults()  # a part that fails (media, database, MQTT, a camera) is shown and retried
        self._writes: deque[tuple[Callable[..., Any], tuple]] = deque()  # database writes not done yet, in order
        self._retry_writes_at = 0.0
        self._scoring = threading.Lock()  # a teaching swaps a camera's memory between two frames, not during one
        self._readers: list[SourceReader] = []  # the running loop's, one per camera, in order
        self._idle = threading.Event()  # set while every source has ended
        self._ended: set[int] = set()  # the readers that ended or were stopped, by their index in _readers
        self._removals: deque[tuple[str, threading.Event]] = deque()  # cameras to stop, done by the loop
        self._changes = 0  # cameras started or stopped: the loop maps its readers to cameras again
        if on_site:
            for cam in config.cameras:
                store.add_camera(cam, if_new=True)
            return
        for cam in [*config.cameras, *[c for c in store.added_cameras() if c.name not in
                                       {k.name for k in config.cameras}]]:
            self.cameras[cam.name] = self._camera(cam)

    def _detector(self, checkpoint: str | None) -> Detector:
        """One Detector per model file, shared by its cameras (their frames are scored as one batch);
        None: the recipe that ships, for the cameras that learn their own normal (each its memory)."""
        shipped = checkpoint == "shipped"
        key = "learnt" if checkpoint is None else str(default_checkpoint(None if shipped else checkpoint))
        if key not in self._detectors:
            self._detectors[key] = (Detector.from_payload(Path("the recipe that ships"), {"config": Config().to_dict()})
                                    if checkpoint is None else
                                    Detector.load(key, self.config.mode, self.config.precision, strict=False))
        return self._detectors[key]

    def _camera(self, cam: CameraConfig) -> Camera:
        checkpoint = cam.checkpoint or self.config.checkpoint
        detector = self._detector(checkpoint)
        source = self._given.get(cam.name) or open_source(cam.source)
        fitted: dict[str, Any] = {}
        synthetic = callable(getattr(source, "normal_clips", None))
        if synthetic:
            source.fps = cam.fps
            source.name = cam.name
        fps = source.fps or cam.fps
        folder = models.folder(self.config.storage, cam.name)
        models.adopt_files(self.store, self.config.storage, cam.name)
        taught = models.load(self.store, cam.name, detector.config.memory)
        learner = None
        if checkpoint is None and (taught is None or (folder / "learning.pt").is_file()):
            learner = Learner(folder, learn_frames(cam.learn, fps), detector.config)  # resumes what it gathered
            if synthetic:  # its first clips are normal: the footage it learns from
                source.normal_first = -(-learner.needed // source.cfg.frames)
        if taught is not None:  # what it learnt and the operator taught it, as it was last
            fitted = {"stats": taught[1], "memory": taught[2]}
        elif synthetic and learner is None:  # a synthetic camera with a model: fitted on its own normal clips
            fitted = dict(zip(("stats", "memory"), refit(detector, source.normal_clips(CALIBRATION_CLIPS))))
        try:
            stream = None if learner is not None and taught is None else detector.open(cam.name, cam.ignore, **fitted)
        except UserError as exc:
            raise UserError(f"camera {cam.name}: {exc}") from None
        recorder = Recorder(int(self.config.pre_seconds * fps), int(self.config.post_seconds * fps), fps)
        tracker = EventTracker(cam.name, cam.threshold, cam.min_frames, cam.end_frames, self.config.max_event_seconds)
        return Camera(cam, source, detector, stream, tracker, recorder, model=None if taught is None else taught[0],
                      learner=learner)

    def add_camera(self, cam: CameraConfig) -> None:
        """A camera added while serve runs (the page, the API): it learns first unless given a model, is
        remembered in the database, and is read by the running loop from now on."""
        if cam.name in self.cameras or cam.name in {c.name for c in self.store.added_cameras()}:
            raise UserError(f"a camera named {cam.name} is watched already")
        if self.on_site:  # the site's next free worker takes it
            self.store.add_camera(cam)
            return
        camera = self._camera(cam)
        self.store.add_camera(cam)
        self._watch(camera)

    def start_camera(self, name: str) -> None:
        """A site's camera, now this worker's to score (its lease taken), watched from now on."""
        cam = next((c for c in self.store.added_cameras() if c.name == name), None)
        if cam is None:
            raise UserError(f"camera {name} is not one of the site's")
        self._watch(self._camera(cam))

    def _watch(self, camera: Camera) -> None:
        """A camera opened while serve runs: read by the running loop from now on."""
        self.cameras[camera.config.name] = camera
        if self._thread is not None:
            self._start_reader(camera)

    def stop_camera(self, name: str, timeout: float = 10.0) -> None:
        """Stop watching a camera (a site's worker lets it go): its open event ends, its clip is kept,
        what it was learning is saved; returns once it is no longer scored."""
        if name not in self.cameras:
            return
        done = threading.Event()
        self._removals.append((name, done))
        if self._thread is None or not self._thread.is_alive():
            self._apply_removals()
        elif not done.wait(timeout):
            print(f"svdgan: camera {name} did not stop within {timeout:.0f} s", file=sys.stderr, flush=True)

    def _apply_removals(self) -> None:
        while self._removals:
            name, done = self._removals.popleft()
            cam = self.cameras.pop(name, None)
            if cam is not None:
                if cam.reader is not None:
                    cam.reader.stop.set()
                    with contextlib.suppress(ValueError):
                        self._ended.add(self._readers.index(cam.reader))
                self._changes += 1
                self._finish(cam)
                if cam.stream is not None:
                    cam.detector.close(cam.stream)
            done.set()

    def _finish(self, cam: Camera) -> None:
        """A camera no longer watched: its open event ends now, the clip in its post-roll is kept, what
        it was learning is saved."""
        if cam.learner is not None:
            try:
                cam.learner.save()  # a restart goes on learning from here
            except OSError as exc:
                print(f"svdgan: camera {cam.config.name}: what it was learning could not be saved: {exc}",
                      file=sys.stderr)
        for change in cam.tracker.finish():
            self._end_event(cam, time.time(), change)
        clip = cam.recorder.clip
        if clip is not None:
            self._media(cam, "clip", lambda c=clip: self._attach_clip(c if c.finish() else None))

    def learn_more(self, name: str, learn: str) -> None:
        """The camera gathers `learn` more of its footage as it is now (night after day, a moved camera),
        added to what it learnt before; it goes on scoring meanwhile."""
        cam = self.cameras[name]
        if cam.config.checkpoint or self.config.checkpoint:
            raise UserError(f"camera {name} scores with a model given to it: only a camera that learnt its own "
                            "normal learns more (its model is retrained with `svdgan train`)")
        if cam.learner is not None:
            raise UserError(f"camera {name} is learning already")
        cam.learner = Learner(models.folder(self.config.storage, name), learn_frames(learn, cam.source.fps or
                                                                                       cam.config.fps),
                              cam.detector.config)

    def _learn(self, cam: Camera, image: np.ndarray) -> None:
        """A learning camera's frame: gathered; once its fit is done, it scores with what it learnt."""
        assert cam.learner is not None
        cam.learner.push(image)
        if cam.learner.fitted is None:
            return
        stats, memory = cam.learner.fitted
        cam.learner = None
        if cam.stream is None:
            cam.stream = cam.detector.open(cam.config.name, cam.config.ignore, stats=stats, memory=memory)
        else:  # learnt more: from its next frame on, with what the operator taught it kept
            before = cam.detector.memory_of(cam.stream)
            for cells, label in zip(before.taught, before.taught_labels) if before is not None else ():
                memory = memory.taught_with(cells, label)
            cam.detector.replace(cam.stream, stats, memory)
        cam.model = models.save(self.store, cam.config.name, stats, memory, "learnt from its footage")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="svdgan-scoring", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait until every source has ended (the loop then waits for a camera to be added)."""
        if self._thread is not None:
            self._idle.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._apply_removals()
        for cam in list(self.cameras.values()):
            self._finish(cam)
        self._retry_writes_at = 0.0
        self._flush_writes()  # a last try; what still fails is said on stderr
        if self._writes:
            print(f"svdgan: {len(self._writes)} database write(s) could not be made before stopping", file=sys.stderr)

    def _start_reader(self, cam: Camera) -> None:
        cam.reader = SourceReader(cam.source)
        self._readers.append(cam.reader)  # the running loop takes it in (next_frames reads the list as it grows)
        self._changes += 1
        cam.reader.start()

    def _run(self) -> None:
        for cam in list(self.cameras.values()):
            self._start_reader(cam)
        by_reader: dict[int, Camera] = {}
        seen_changes = -1
        try:
            while not self._stop.is_set():
                self._idle.clear()
                for batch in next_frames(self._readers, self._ended, idle_s=0.1):
                    if self._stop.is_set():
                        return
                    if self._removals:
                        self._apply_removals()
                    if seen_changes != self._changes:  # a camera was added or stopped
                        seen_changes = self._changes
                        by_reader = {id(cam.reader): cam for cam in list(self.cameras.values())}
                    self._score([(by_reader[id(self._readers[i])], frame, arrived) for i, frame, arrived in batch
                                 if id(self._readers[i]) in by_reader])
                    self._flush_writes()
                    self._retention()
                self._idle.set()  # every source has ended: wait for a camera to be added
                seen = len(self._readers)
                while not self._stop.is_set() and len(self._readers) == seen:
                    self._apply_removals()
                    self._stop.wait(0.1)
        finally:
            self._idle.set()
            for reader in self._readers:
                reader.stop.set()

    def _score(self, batch: list[tuple[Camera, Frame, float]]) -> None:
        if self.may_score is not None and batch and not self.may_score():
            return  # a site's worker that cannot know its leases still run: another may score its cameras
        by_detector: dict[int, list[tuple[Camera, Frame, float]]] = {}
        for item in batch:
            cam = item[0]
            if cam.learner is not None:
                try:
                    self._learn(cam, item[1].image)
                except Exception as exc:  # noqa: BLE001 (one camera's learning must not stop the others)
                    self.faults.failed(f"camera {cam.config.name}", exc)
                if cam.stream is None:  # learning its normal for the first time: shown, not scored
                    self._show(cam, item[1].image)
                    continue
            by_detector.setdefault(id(item[0].detector), []).append(item)
        for items in by_detector.values():
            try:
                with self._scoring:
                    scored = items[0][0].detector.score([(cam.stream, frame) for cam, frame, _ in items])
            except Exception as exc:  # noqa: BLE001 (one bad frame or model must not stop the other cameras)
                for cam, _, _ in items:
                    self.faults.failed(f"camera {cam.config.name}", exc)
                continue
            done, now = time.perf_counter(), time.time()
            for (cam, _, arrived), result in zip(items, scored):
                self.faults.ok(f"camera {cam.config.name}")
                cam.latencies.append(done - arrived)
                self._frame(cam, result, now)

    def _show(self, cam: Camera, image: np.ndarray) -> None:
        """A frame of a camera that is not scored yet: counted and shown live."""
        cam.frames += 1
        cam.frame_times.append(time.monotonic())
        cam.jpeg = self._live_jpeg(image, None)
        cam.jpeg_version += 1

    def _frame(self, cam: Camera, result: ScoredFrame, now: float) -> None:
        cam.frames += 1
        cam.frame_times.append(time.monotonic())
        cam.scores.append((now, result.score))
        changes = cam.tracker.update(result)
        if result.cells is not None:
            cam.recent_motion.append((result.frame, result.cells.half()))
            if cam.tracker.open is not None and not any(c.kind == "start" for c in changes):
                cam.event_motion.append(cam.recent_motion[-1])
        item = Recorded(result.image, result.error_map, result.score, result.why if result.anomalous else None)
        if cam.recorder.clip is None:
            cam.recorder.push(item)  # the pre-roll's ring buffer: nothing written
        else:
            self._media(cam, "clip", lambda: self._attach_clip(cam.recorder.push(item)))
        for change in changes:
            if change.kind == "start":
                self._start_event(cam, change, now)
            elif change.kind == "peak":
                cam.peak = Recorded(result.image, result.error_map, result.score, result.why)
                if now - cam.last_update >= 1.0:  # at most one update message a second
                    cam.last_update = now
                    self._publish(cam, "update", {"id": cam.event_id, "peak_score": result.score,
                                                  "why": _why(cam.peak)})
            else:
                self._end_event(cam, now, change)
        if cam.event_id is not None and now - cam.last_touch >= 1.0:  # one row update a second: where a crash ends it
            cam.last_touch = now
            event = cam.tracker.open
            if event is not None:
                self._write(self.store.touch, cam.event_id, now, event.peak_score, event.peak_frame, _why(cam.peak))
        cam.jpeg = self._live_jpeg(result.image, result.error_map, result.why if result.anomalous else None)
        cam.jpeg_version += 1

    def _start_event(self, cam: Camera, change: Change, now: float) -> None:
        event, peak = change.event, change.event.peak
        event_id = self.store.reserve_id()
        cam.peak = Recorded(peak.image, peak.error_map, peak.score, peak.why)
        why = _why(cam.peak)
        self._write(self.store.open, cam.config.name, now, peak.score, peak.frame, event_id, why, event.start_frame)
        cam.event_id, cam.last_update, cam.event_start, cam.last_touch = event_id, now, now, now
        # its motion from the frame before its first (the flow into it), for "normal" to teach
        cam.event_motion = [m for m in cam.recent_motion if m[0] >= event.start_frame - 1]
        self._snapshot(cam)
        self._media(cam, "clip", lambda: self._attach_clip(
            cam.recorder.start_clip(self.store.media / f"event_{event_id}.webm", event_id)))
        self._publish(cam, "new", {"id": event_id, "start": now, "score": peak.score, "why": why})

    def _end_event(self, cam: Camera, now: float, change: Change | None = None) -> None:
        """The camera's open event ends (its tracker ended it, or serve stops)."""
        event_id = cam.event_id
        if event_id is None:
            return
        event = change.event if change is not None else cam.tracker.open
        self._snapshot(cam)  # the peak frame
        since = cam.event_start - self.config.pre_seconds
        why = _why(cam.peak)
        if event is not None:
            self._write(self.store.touch, event_id, now, event.peak_score, event.peak_frame, why)
        self._write(self.store.close_event, event_id, now, [(t, s) for t, s in cam.scores if t >= since],
                    None if event is None else event.end_frame)
        self._save_motion(cam, event_id, None if event is None else event.end_frame)
        cam.recorder.end_clip()
        cam.event_id, cam.peak = None, None
        self._publish(cam, "end", {"id": event_id, "end": now, "why": why})

    def _snapshot(self, cam: Camera) -> None:
        name, event_id, peak = f"event_{cam.event_id}.jpg", cam.event_id, cam.peak

        def save() -> None:
            snapshot(self.store.media / name, peak)
            self._write(self.store.set_media, event_id, "snapshot", name)

        self._media(cam, "snapshot", save)

    def _save_motion(self, cam: Camera, event_id: int, end_frame: int | None) -> None:
        """The event's frames' motion cells (N, D, gh, gw), float16, beside its clip."""
        motion = [cells for frame, cells in cam.event_motion if end_frame is None or frame <= end_frame]
        cam.event_motion = []
        if not motion:
            return
        name = f"event_{event_id}.motion.pt"

        def save() -> None:
            atomic_write(self.store.media / name, lambda tmp: torch.save(torch.stack(motion), tmp))
            self._write(self.store.set_media, event_id, "motion", name)

        self._media(cam, "motion", save)

    # --- the operator's verdicts ------------------------------------------------------------------

    def feedback(self, event_id: int, label: str | None, who: str) -> None:
        """An operator's verdict on a closed event: "normal" teaches its camera's memory the event's
        motion (written as the camera's next model version before this returns), "anomaly" confirms
        it (retention keeps it), None undoes the verdict (a teaching taken back, a new version)."""
        event = self.store.get(event_id)
        if event is None:
            raise KeyError(event_id)
        if event.end is None:
            raise UserError("the event is still open: give a verdict once it has ended")
        cam = self.cameras.get(event.camera)
        teaches = label == "normal" or (label is None and event.label == "normal")
        if label == event.label:
            return
        if event.label == "normal" or label == "normal":
            if cam is None:
                raise UserError(f"camera {event.camera} is not watched now: its memory cannot be taught")
            taught = f"event {event_id}"
            with self._scoring:
                known = (cam.detector.memory_of(cam.stream) or cam.detector.memory)
                already = known is not None and taught in known.taught_labels  # a verdict whose record failed
                if event.label == "normal" or (already and label != "normal"):  # what it taught is taken back
                    cam.detector.undo_label(taught, cam.stream)
                if label == "normal" and not already:
                    path = self.store.media_path(event_id, "motion")
                    if path is None:
                        raise UserError("this event has no recorded motion to teach (its model has no memory)")
                    cam.detector.teach_cells(torch.load(path, weights_only=True).float(), cam.stream, taught)
                stats = cam.detector.sources[cam.stream].stats or {}
                memory = cam.detector.memory_of(cam.stream)
            assert memory is not None
            cam.model = models.save(self.store, cam.config.name, stats, memory, str(cam.detector.path))
        self.store.set_label(event_id, label, who, cam.model if teaches and cam is not None else None)

    def _attach_clip(self, clip: Any) -> None:
        if clip is not None:
            self._write(self.store.set_media, clip.event_id, "clip", clip.path.name)

    def _media(self, cam: Camera, kind: str, save: Callable[[], None]) -> None:
        """A snapshot or clip write: a failure loses that file (said on the event, counted on the
        health panel), never the event or the scoring; the next one is tried as usual."""
        part = f"{kind}s"  # snapshots, clips: a failing one does not hide behind the other's success
        try:
            save()
        except Exception as exc:  # noqa: BLE001 (a full disk, a folder gone, an encoder that fails)
            self.faults.failed(part, exc, lost=1)
            if kind == "clip" and cam.recorder.clip is not None:
                clip, cam.recorder.clip = cam.recorder.clip, None
                with contextlib.suppress(OSError):  # its partial file may be as unreachable as the folder
                    clip.discard()
            if cam.event_id is not None:
                self._write(self.store.note_media_error, cam.event_id, f"{kind} not saved: {exc}")
        else:
            self.faults.ok(part)

    def _write(self, write: Callable[..., Any], *args: Any) -> None:
        """A database write, done now or, while the database fails (locked, disk full), kept in order
        and retried: no event row is lost. An open event's touch carries its peak so far, so a newer
        one replaces its waiting one: an outage of hours keeps a few writes per event, not one a second."""
        if write == self.store.touch:
            for i, (waiting, waiting_args) in enumerate(self._writes):
                if waiting == self.store.touch and waiting_args[0] == args[0]:
                    self._writes[i] = (write, args)
                    self._flush_writes()
                    return
        self._writes.append((write, args))
        self._flush_writes()

    def _flush_writes(self) -> None:
        if not self._writes or time.monotonic() < self._retry_writes_at:
            return
        while self._writes:
            write, args = self._writes[0]
            try:
                write(*args)
            except StoreError as exc:
                self.faults.failed("database", exc)
                self._retry_writes_at = time.monotonic() + RETRY_WRITES_S
                return
            self._writes.popleft()
        self.faults.ok("database")

    def _publish(self, cam: Camera, kind: str, payload: dict[str, Any]) -> None:
        if self.publish is None:
            return
        try:
            self.publish(cam.config.name, kind, {"camera": cam.config.name, "type": kind, **payload})
        except Exception as exc:  # noqa: BLE001 (a broker gone or a bad topic: the event is in the database)
            self.faults.failed("mqtt", exc)
        else:
            self.faults.ok("mqtt")

    def _retention(self) -> None:
        now = time.monotonic()
        if now - self._last_retention >= RETENTION_EVERY_S:
            self._last_retention = now
            try:
                self.store.enforce_retention(self.config.max_age_hours * 3600, int(self.config.max_mb * 2**20),
                                         int(self.config.min_free_mb * 2**20))
            except StoreError as exc:
                self.faults.failed("retention", exc)
            else:
                self.faults.ok("retention")

    @staticmethod
    def _live_jpeg(image: np.ndarray, errors: np.ndarray | None, why: Why | None = None) -> bytes:
        """The live view's frame: its heat map and, while it is anomalous, the reason and its box."""
        frame = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        heat = with_heat(frame, errors, error_scale(errors), 0.45)
        if why is not None:
            mark(heat, why, 1.0)
        ok, data = cv2.imencode(".jpg", heat, [cv2.IMWRITE_JPEG_QUALITY, 80])
        return data.tobytes() if ok else b""


def _why(item: Recorded | None) -> dict[str, Any] | None:
    """What made a recorded frame unusual, as the event row and messages give it."""
    return item.why.to_dict() if item is not None and item.why is not None else None

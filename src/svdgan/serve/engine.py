"""The scoring loop of `svdgan serve`: every camera's frames scored as they arrive through the Detector
(batched per model file), each camera's EventTracker turning its scores into events with a snapshot
and a clip, live frames and health kept for the web page, messages for MQTT.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from svdgan.errors import UserError
from svdgan.live.events import Change, EventTracker
from svdgan.live.overlay import error_scale, mark, with_heat
from svdgan.memory.explain import Why
from svdgan.model.checkpoint import default_checkpoint
from svdgan.scoring.detector import Detector, ScoredFrame
from svdgan.scoring.fit import refit
from svdgan.serve.config import CameraConfig, ServeConfig
from svdgan.serve.faults import Faults
from svdgan.serve.recorder import Recorded, Recorder, snapshot
from svdgan.serve.store import EventStore
from svdgan.sources.open import open_source
from svdgan.sources.reader import SourceReader, next_frames
from svdgan.sources.video import Frame, Source
from svdgan.utils.clock import latency_summary

RETENTION_EVERY_S = 30.0
STALE_S = 10.0  # a camera whose frames stop this long without an error is flagged stale
RETRY_WRITES_S = 1.0  # database writes that failed are retried this often, in order
Publish = Callable[[str, str, dict[str, Any]], None]  # (camera, kind: new/update/end, payload)


@dataclass
class Camera:
    config: CameraConfig
    source: Source
    detector: Detector  # its model file's, shared with the other cameras of that file (one batch)
    stream: int  # its stream in that detector
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

        return {"camera": self.config.name, "frames": self.frames, "fps": round(fps, 2) if state == "ok" else 0.0,
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
                 sources: dict[str, Source] | None = None):
        """`sources` replaces the configured source of the cameras it names (tests, embedding)."""
        self.config, self.store, self.publish = config, store, publish
        self._given = sources or {}
        self.cameras: dict[str, Camera] = {}
        self._detectors: dict[str, Detector] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_retention = 0.0
        self.faults = Faults()  # a part that fails (media, database, MQTT, a camera) is shown and retried
        self._writes: deque[tuple[Callable[..., Any], tuple]] = deque()  # database writes not done yet, in order
        self._retry_writes_at = 0.0
        for cam in config.cameras:
            self.cameras[cam.name] = self._camera(cam)

    def _detector(self, checkpoint: str | None) -> Detector:
        """One Detector per model file, shared by its cameras (their frames are scored as one batch)."""
        path = str(default_checkpoint(checkpoint))
        if path not in self._detectors:
            self._detectors[path] = Detector.load(path, self.config.mode, self.config.precision,
                                                     strict=False)
        return self._detectors[path]

    def _camera(self, cam: CameraConfig) -> Camera:
        detector = self._detector(cam.checkpoint or self.config.checkpoint)
        source = self._given.get(cam.name) or open_source(cam.source)
        fitted: dict[str, Any] = {}
        if callable(getattr(source, "normal_clips", None)):  # a synthetic camera: fitted on its own normal clips
            source.fps = cam.fps
            source.name = cam.name
            fitted = dict(zip(("stats", "memory"), refit(detector, source.normal_clips(CALIBRATION_CLIPS))))
        try:
            stream = detector.open(cam.name, cam.ignore, **fitted)
        except UserError as exc:
            raise UserError(f"camera {cam.name}: {exc}") from None
        fps = source.fps or cam.fps
        recorder = Recorder(int(self.config.pre_seconds * fps), int(self.config.post_seconds * fps), fps)
        tracker = EventTracker(cam.name, cam.threshold, cam.min_frames, cam.end_frames, self.config.max_event_seconds)
        return Camera(cam, source, detector, stream, tracker, recorder)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="svdgan-scoring", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the scoring thread (it ends when every source has ended)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for cam in self.cameras.values():
            for change in cam.tracker.finish():  # what is open ends now
                self._end_event(cam, time.time(), change)
            clip = cam.recorder.clip
            if clip is not None:  # still in its post-roll: keep what was written
                self._media(cam, "clip", lambda c=clip: self._attach_clip(c if c.finish() else None))
        self._retry_writes_at = 0.0
        self._flush_writes()  # a last try; what still fails is said on stderr
        if self._writes:
            print(f"svdgan: {len(self._writes)} database write(s) could not be made before stopping", file=sys.stderr)

    def _run(self) -> None:
        cams = list(self.cameras.values())
        readers = [SourceReader(cam.source) for cam in cams]
        for cam, reader in zip(cams, readers):
            cam.reader = reader
            reader.start()
        try:
            for batch in next_frames(readers):
                if self._stop.is_set():
                    break
                self._score([(cams[i], frame, arrived) for i, frame, arrived in batch])
                self._flush_writes()
                self._retention()
        finally:
            for reader in readers:
                reader.stop.set()

    def _score(self, batch: list[tuple[Camera, Frame, float]]) -> None:
        by_detector: dict[int, list[tuple[Camera, Frame, float]]] = {}
        for item in batch:
            by_detector.setdefault(id(item[0].detector), []).append(item)
        for items in by_detector.values():
            try:
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

    def _frame(self, cam: Camera, result: ScoredFrame, now: float) -> None:
        cam.frames += 1
        cam.frame_times.append(time.monotonic())
        cam.scores.append((now, result.score))
        changes = cam.tracker.update(result)
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
        cam.recorder.end_clip()
        cam.event_id, cam.peak = None, None
        self._publish(cam, "end", {"id": event_id, "end": now, "why": why})

    def _snapshot(self, cam: Camera) -> None:
        name, event_id, peak = f"event_{cam.event_id}.jpg", cam.event_id, cam.peak

        def save() -> None:
            snapshot(self.store.media / name, peak)
            self._write(self.store.set_media, event_id, "snapshot", name)

        self._media(cam, "snapshot", save)

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
            except (sqlite3.Error, OSError) as exc:
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
            except (sqlite3.Error, OSError) as exc:
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

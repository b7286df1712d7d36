"""The event store of `svdgan serve`: one row per event, in SQLite or PostgreSQL (serve/database.py).

An event opens when a camera's alert starts and closes when it ends. Its snapshot, clip and motion
(the cells an operator's "normal" teaches) are files under the recording worker's media folder,
named from the event's id (never from request text), and are deleted with their row by retention,
oldest first; an event an operator confirmed as an anomaly is never deleted. Every operator's verdict
(normal, anomaly, undone) is a row of `feedback`: what, when and from whom. Each camera's model
versions are rows of `models`, so that whichever worker scores a camera scores it with the same memory.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import svdgan.serve.database as database
from svdgan.serve.config import CameraConfig
from svdgan.serve.recorder import rebuild_clip

StoreError = (sa.exc.SQLAlchemyError, OSError)  # a write that failed (locked, disk full, database gone): retried
MEDIA_KINDS = {".webm": "clip", ".jpg": "snapshot", ".pt": "motion"}  # a media file's suffix -> its column
ID_BLOCK = 16  # event ids a worker takes from PostgreSQL's sequence at once
EVENT_COLUMNS = ", ".join(f'"{c.name}"' for c in database.events.columns)  # in Event's order


@dataclass
class Event:
    id: int
    camera: str
    start: float
    end: float | None
    peak_score: float
    peak_frame: int
    snapshot: str | None
    clip: str | None
    bytes: int
    reviewed: bool
    curve: list[list[float]] | None = None
    media_error: str | None = None
    last_seen: float | None = None
    why: dict[str, Any] | None = None  # what made its peak frame unusual, and where: {"reason", "box"}
    start_frame: int | None = None  # the source's frame numbers of its first and last frames above the threshold
    end_frame: int | None = None
    motion: str | None = None  # file of its frames' motion cells
    label: str | None = None  # 'normal', 'anomaly' or None
    worker: str | None = None  # the worker that recorded it (a site's); None: this server

    def to_dict(self, curve: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not curve:
            data.pop("curve")
        return data


class EventStore:
    """Thread-safe: the scoring loop writes, the web server reads and marks events reviewed.
    `database`: None for SQLite in `folder`, or a postgresql:// URL; `worker`: this process's name
    on a site (its events are recovered per camera as it takes each over, not all at start)."""

    def __init__(self, folder: str | Path, database_url: str | None = None, worker: str | None = None):
        self.folder = Path(folder)
        self.media = self.folder / "media"
        self.media.mkdir(parents=True, exist_ok=True)
        self.worker = worker
        self._lock = threading.Lock()
        self._ids: list[int] = []  # PostgreSQL: event ids taken from the sequence ahead of need
        self.engine = database.connect(database.url_for(self.folder, database_url))
        self.postgres = self.engine.dialect.name == "postgresql"
        self._next_id = 1 + self._scalar("SELECT COALESCE(MAX(id), 0) FROM events")
        if not self.postgres:  # ids are never reused, even those of deleted events
            seq = self._scalar("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'events'")
            self._next_id = max(self._next_id, 1 + seq)
        if worker is None:
            self._recover()
        else:
            self._recover_media()

    # --- plumbing ---------------------------------------------------------------------------------

    def _run(self, sql: str, args: dict[str, Any] | None = None) -> sa.CursorResult:
        with self._lock, self.engine.begin() as conn:
            return conn.execute(sa.text(sql), args or {})

    def _scalar(self, sql: str, args: dict[str, Any] | None = None) -> Any:
        with self._lock, self.engine.begin() as conn:
            return conn.execute(sa.text(sql), args or {}).scalar()

    def _rows(self, sql: str, args: dict[str, Any] | None = None) -> list[tuple]:
        with self._lock, self.engine.begin() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), args or {})]

    def close(self) -> None:
        self.engine.dispose()

    # --- after a crash ----------------------------------------------------------------------------

    def _recover(self) -> None:
        """After a crash: events left open end at their last recorded frame, and the media folder is
        made to agree with the rows."""
        self._run('UPDATE events SET "end" = COALESCE(last_seen, start) WHERE "end" IS NULL')
        self._recover_media()

    def recover_camera(self, camera: str) -> int:
        """A site's camera taken over from a worker that stopped: its events left open end at their
        last recorded frame. Returns how many."""
        return self._run('UPDATE events SET "end" = COALESCE(last_seen, start) WHERE "end" IS NULL AND camera = :c',
                         {"c": camera}).rowcount

    def _recover_media(self) -> None:
        """A clip cut off is rebuilt from its journal of frames into a whole one and attached; a
        snapshot cut off, and media files no row names, are attached to their event's row if it
        exists, else deleted."""
        for journal in [*self.media.glob(".event_*.journal"), *self.media.glob(".event_*.recovering")]:
            event_id = _event_id(journal.name[1:])
            if event_id is None:
                journal.unlink()
                continue
            recovering = journal.with_name(f".event_{event_id}.recovering")  # out of the new clip's way
            journal.replace(recovering)
            clip = self.media / f"event_{event_id}.webm"
            if self.get(event_id) is not None and rebuild_clip(recovering, clip):
                self.set_media(event_id, "clip", clip.name)
            recovering.unlink(missing_ok=True)
        for partial in self.media.glob(".*.partial.*"):  # the encoder's or a snapshot's file, cut off
            partial.unlink()
        for file in self.media.glob("event_*.*"):
            event_id = _event_id(file.name)
            event = None if event_id is None else self.get(event_id)
            kind = MEDIA_KINDS.get(file.suffix)
            if kind is None:
                continue
            if event is None:
                file.unlink()  # its row was deleted (retention) before the file was
            elif getattr(event, kind) != file.name:
                self.set_media(event.id, kind, file.name)  # written, then a crash before its row said so

    # --- events -----------------------------------------------------------------------------------

    def reserve_id(self) -> int:
        """The id of the next event, known before its row is written (the row may have to wait). On
        PostgreSQL it comes from the table's sequence, unique across the site's workers; while the
        database is away, a worker cannot reserve and its event waits for its id (the engine retries)."""
        if self.postgres:
            if len(self._ids) < ID_BLOCK // 2:  # ids taken ahead: an outage delays events' rows, not their ids
                try:
                    self._ids.extend(r[0] for r in self._rows(
                        "SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1, :n)",
                        {"n": ID_BLOCK}))
                except StoreError:
                    if not self._ids:
                        raise
            return int(self._ids.pop(0))
        with self._lock:
            event_id, self._next_id = self._next_id, self._next_id + 1
        return event_id

    def open(self, camera: str, start: float, score: float, frame: int, event_id: int | None = None,
             why: dict[str, Any] | None = None, start_frame: int | None = None) -> Event:
        event_id = self.reserve_id() if event_id is None else event_id
        if not self.postgres:
            with self._lock:
                self._next_id = max(self._next_id, event_id + 1)
        self._run("INSERT INTO events (id, camera, start, peak_score, peak_frame, why, start_frame, worker) "
                  "VALUES (:id, :camera, :start, :score, :frame, :why, :start_frame, :worker) "
                  "ON CONFLICT (id) DO NOTHING",
                  {"id": event_id, "camera": camera, "start": start, "score": score, "frame": frame,
                   "why": _json(why), "start_frame": frame if start_frame is None else start_frame,
                   "worker": self.worker})
        event = self.get(event_id)
        assert event is not None
        return event

    def touch(self, event_id: int, seen: float, peak_score: float, peak_frame: int,
              why: dict[str, Any] | None = None) -> None:
        """An open event's latest frame time (so a crash ends it there) and its peak so far, with
        what made the peak unusual (every SET is computed from the row as it was)."""
        self._run("UPDATE events SET last_seen = :seen, "
                  "peak_score = CASE WHEN :score > peak_score THEN :score ELSE peak_score END, "
                  "peak_frame = CASE WHEN :score > peak_score THEN :frame ELSE peak_frame END, "
                  "why = CASE WHEN :score >= peak_score AND CAST(:why AS TEXT) IS NOT NULL THEN :why ELSE why END "
                  'WHERE id = :id AND "end" IS NULL',
                  {"seen": seen, "score": peak_score, "frame": peak_frame, "why": _json(why), "id": event_id})

    def note_media_error(self, event_id: int, message: str) -> None:
        """Why one of the event's files could not be saved (the first reason is kept)."""
        self._run("UPDATE events SET media_error = COALESCE(media_error, :m) WHERE id = :id",
                  {"m": message[:300], "id": event_id})

    def update_peak(self, event_id: int, score: float, frame: int) -> None:
        self._run("UPDATE events SET peak_score = :s, peak_frame = :f WHERE id = :id AND peak_score < :s",
                  {"s": score, "f": frame, "id": event_id})

    def close_event(self, event_id: int, end: float, curve: list[tuple[float, float]] | None = None,
                    end_frame: int | None = None) -> None:
        self._run('UPDATE events SET "end" = :end, curve = :curve, end_frame = COALESCE(:ef, end_frame) '
                  "WHERE id = :id", {"end": end, "curve": json.dumps(curve or []), "ef": end_frame, "id": event_id})

    def set_media(self, event_id: int, kind: str, name: str) -> None:
        """Record a media file (kind 'snapshot', 'clip' or 'motion') that now exists under the media folder."""
        if kind not in MEDIA_KINDS.values():
            raise ValueError(kind)
        with self._lock, self.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE events SET {kind} = :n WHERE id = :id"), {"n": name, "id": event_id})
            row = conn.execute(sa.text("SELECT snapshot, clip, motion FROM events WHERE id = :id"),
                               {"id": event_id}).one()
            size = sum((self.media / n).stat().st_size for n in row if n and (self.media / n).is_file())
            conn.execute(sa.text("UPDATE events SET bytes = :b WHERE id = :id"), {"b": size, "id": event_id})

    def set_reviewed(self, event_id: int, reviewed: bool = True) -> bool:
        return self._run("UPDATE events SET reviewed = :r WHERE id = :id",
                         {"r": int(reviewed), "id": event_id}).rowcount == 1

    def set_label(self, event_id: int, label: str | None, who: str, model: str | None = None) -> None:
        """An operator's verdict on an event ('normal', 'anomaly', or None: undone), recorded in
        `feedback` in the same transaction."""
        if label not in ("normal", "anomaly", None):
            raise ValueError(label)
        with self._lock, self.engine.begin() as conn:
            camera = conn.execute(sa.text("SELECT camera FROM events WHERE id = :id"), {"id": event_id}).scalar()
            if camera is None:
                raise KeyError(event_id)
            conn.execute(sa.text("UPDATE events SET label = :l WHERE id = :id"), {"l": label, "id": event_id})
            conn.execute(database.feedback.insert().values(event_id=event_id, camera=camera, label=label or "undo",
                                                           at=time.time(), who=who, model=model))

    def feedback(self, camera: str | None = None) -> list[dict[str, Any]]:
        """Every verdict, oldest first."""
        rows = self._rows("SELECT event_id, camera, label, at, who, model FROM feedback"
                          + (" WHERE camera = :c" if camera else "") + " ORDER BY id", {"c": camera})
        return [dict(zip(("event_id", "camera", "label", "at", "who", "model"), r)) for r in rows]

    def get(self, event_id: int) -> Event | None:
        rows = self._rows(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = :id", {"id": event_id})
        return _event(rows[0]) if rows else None

    def list(self, camera: str | None = None, since: float | None = None, until: float | None = None,
             reviewed: bool | None = None, limit: int = 100) -> list[Event]:
        """Newest first, filtered."""
        where, args = [], {"limit": limit}
        for clause, key, value in (("camera = :camera", "camera", camera), ("start >= :since", "since", since),
                                   ("start <= :until", "until", until),
                                   ("reviewed = :reviewed", "reviewed", None if reviewed is None else int(reviewed))):
            if value is not None:
                where.append(clause)
                args[key] = value
        sql = f"SELECT {EVENT_COLUMNS} FROM events" + (" WHERE " + " AND ".join(where) if where else "")
        return [_event(r) for r in self._rows(sql + " ORDER BY start DESC, id DESC LIMIT :limit", args)]

    def media_path(self, event_id: int, kind: str) -> Path | None:
        """The file of an event's snapshot, clip or motion, looked up from the database (None: not
        here, e.g. recorded by another worker)."""
        event = self.get(event_id)
        name = None if event is None else getattr(event, kind)
        if name is None:
            return None
        path = self.media / name
        return path if path.is_file() else None

    # --- cameras and their models -----------------------------------------------------------------

    def add_camera(self, cam: CameraConfig, if_new: bool = False) -> None:
        """A camera added while serve runs, watched again after a restart (on a site: by any worker).
        `if_new`: a camera of that name already there is left as it is."""
        self._run("INSERT INTO cameras (name, source, fps, threshold, min_frames, end_frames, learn, added, "
                  "checkpoint, ignore) VALUES (:name, :source, :fps, :threshold, :min_frames, :end_frames, :learn, "
                  ":added, :checkpoint, :ignore)" + (" ON CONFLICT (name) DO NOTHING" if if_new else ""),
                  {"name": cam.name, "source": cam.source, "fps": cam.fps, "threshold": cam.threshold,
                   "min_frames": cam.min_frames, "end_frames": cam.end_frames, "learn": cam.learn,
                   "added": time.time(), "checkpoint": cam.checkpoint, "ignore": json.dumps(cam.ignore)})

    def added_cameras(self) -> list[CameraConfig]:
        rows = self._rows("SELECT name, source, fps, threshold, min_frames, end_frames, learn, checkpoint, ignore "
                          "FROM cameras ORDER BY added, name")
        return [CameraConfig(name, source, threshold, min_frames, checkpoint, [tuple(b) for b in json.loads(
                    ignore or "[]")], fps=fps, end_frames=end_frames, learn=learn)
                for name, source, fps, threshold, min_frames, end_frames, learn, checkpoint, ignore in rows]

    def save_model(self, camera: str, data: bytes, note: str, keep: int) -> int:
        """The camera's next model version, committed whole (or not at all); the oldest beyond `keep`
        are deleted. Returns its number."""
        with self._lock, self.engine.begin() as conn:
            number = 1 + conn.execute(sa.text("SELECT COALESCE(MAX(version), 0) FROM models WHERE camera = :c"),
                                      {"c": camera}).scalar()
            conn.execute(database.models.insert().values(camera=camera, version=number, created=time.time(),
                                                         note=note, data=data))
            conn.execute(sa.text("DELETE FROM models WHERE camera = :c AND version <= :old"),
                         {"c": camera, "old": number - keep})
        return number

    def latest_model(self, camera: str) -> tuple[int, bytes] | None:
        """The camera's newest (version, checkpoint bytes), or None (never learnt nor taught)."""
        rows = self._rows("SELECT version, data FROM models WHERE camera = :c ORDER BY version DESC LIMIT 1",
                          {"c": camera})
        return (rows[0][0], bytes(rows[0][1])) if rows else None

    def model_version(self, camera: str) -> int | None:
        return self._scalar("SELECT MAX(version) FROM models WHERE camera = :c", {"c": camera})

    # --- retention --------------------------------------------------------------------------------

    def folder_bytes(self) -> int:
        """Every byte under the storage folder: media, clips being written, the database and its WAL."""
        total = 0
        for path in self.folder.rglob("*"):
            try:
                total += path.stat().st_size if path.is_file() else 0
            except FileNotFoundError:  # deleted meanwhile (a clip moved into place)
                continue
        return total

    def enforce_retention(self, max_age_s: float | None = None, max_bytes: int | None = None,
                          min_free_bytes: int | None = None, now: float | None = None,
                          free_bytes: Callable[[], int] | None = None) -> int:
        """Delete closed events (rows and files) recorded here, oldest first, while one is older than
        max_age_s, the storage folder holds more than max_bytes, or the disk has less than
        min_free_bytes free. Open events, and events an operator confirmed as anomalies, are never
        deleted. Returns how many were deleted."""
        now = time.time() if now is None else now
        free_bytes = free_bytes or (lambda: shutil.disk_usage(self.folder).free)
        total = self.folder_bytes() if max_bytes is not None else 0
        deleted = 0
        mine = "worker IS NULL" if self.worker is None else "worker = :worker"
        rows = self._rows('SELECT id, start, snapshot, clip, motion FROM events WHERE "end" IS NOT NULL '
                          f"AND (label IS NULL OR label <> 'anomaly') AND {mine} ORDER BY start, id",
                          {"worker": self.worker})
        for event_id, start, *files in rows:
            too_old = max_age_s is not None and now - start > max_age_s
            too_big = max_bytes is not None and total > max_bytes
            too_full = min_free_bytes is not None and free_bytes() < min_free_bytes
            if not (too_old or too_big or too_full):
                break
            self._run("DELETE FROM events WHERE id = :id", {"id": event_id})  # the row first: no row names a lost file
            for name in files:
                if name:
                    path = self.media / name
                    total -= path.stat().st_size if path.is_file() else 0
                    path.unlink(missing_ok=True)
            deleted += 1
        if not self.postgres:
            self._run("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL counts too: give its pages back
        return deleted


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def _event(row: tuple) -> Event:
    (event_id, camera, start, end, peak_score, peak_frame, snapshot, clip, size, reviewed, curve, media_error,
     last_seen, why, start_frame, end_frame, motion, label, worker) = row
    return Event(event_id, camera, start, end, peak_score, peak_frame, snapshot, clip, size, bool(reviewed),
                 json.loads(curve) if curve else None, media_error, last_seen, json.loads(why) if why else None,
                 start_frame, end_frame, motion, label, worker)


def _event_id(name: str) -> int | None:
    """'event_12.webm', 'event_12.motion.pt' or 'event_12.partial.webm' -> 12."""
    stem = name.split(".", 1)[0]
    number = stem.removeprefix("event_")
    return int(number) if stem.startswith("event_") and number.isdigit() else None

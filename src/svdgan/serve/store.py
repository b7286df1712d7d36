"""The event store of `svdgan serve`: one SQLite database (WAL), one row per event.

An event opens when a camera's alert starts and closes when it ends. Its snapshot, clip and motion
(the cells an operator's "normal" teaches) are files under the store's media folder, named from the
event's id (never from request text), and are deleted with their row by retention, oldest first;
an event an operator confirmed as an anomaly is never deleted. Every operator's verdict (normal,
anomaly, undone) is a row of `feedback`: what, when and from whom.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from svdgan.serve.config import CameraConfig
from svdgan.serve.recorder import rebuild_clip

BUSY_TIMEOUT_S = 0.2
WAL_LIMIT_BYTES = 256 * 1024  # the database's log beyond its checkpoint: the most it adds over max_mb
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    camera TEXT NOT NULL,
    start REAL NOT NULL,          -- wall-clock seconds (Unix time)
    end REAL,                     -- NULL while the event is open
    peak_score REAL NOT NULL,
    peak_frame INTEGER NOT NULL,
    snapshot TEXT,                -- file name under the media folder
    clip TEXT,
    bytes INTEGER NOT NULL DEFAULT 0,   -- size of its media files
    reviewed INTEGER NOT NULL DEFAULT 0,
    curve TEXT,                   -- JSON [[unix time, score], ...] from the pre-roll to the end
    media_error TEXT,             -- why a snapshot or clip could not be saved, if one could not
    last_seen REAL,               -- an open event's latest frame (Unix time): where a crash ends it
    why TEXT,                     -- JSON {"reason": ..., "box": [x, y, w, h]} of its peak frame
    start_frame INTEGER,          -- the source's frame numbers of its first and last frames above the threshold
    end_frame INTEGER,
    motion TEXT,                  -- file name of its frames' motion cells (what "normal" teaches)
    label TEXT                    -- the operator's verdict: 'normal', 'anomaly' (kept for ever) or NULL
);
CREATE INDEX IF NOT EXISTS events_start ON events (start);
CREATE INDEX IF NOT EXISTS events_camera ON events (camera, start);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL,
    camera TEXT NOT NULL,
    label TEXT NOT NULL,          -- 'normal', 'anomaly' or 'undo'
    at REAL NOT NULL,             -- Unix time
    who TEXT NOT NULL,            -- the login it came from: how it authenticated, and its address
    model TEXT                    -- the camera's model file written for it (normal, undo)
);
CREATE TABLE IF NOT EXISTS cameras (  -- cameras added while serve ran (the page, the API), beside the config's
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    fps REAL NOT NULL,
    threshold REAL NOT NULL,
    min_frames INTEGER NOT NULL,
    end_frames INTEGER NOT NULL,
    learn TEXT NOT NULL,
    added REAL NOT NULL
);
"""
MEDIA_KINDS = {".webm": "clip", ".jpg": "snapshot", ".pt": "motion"}  # a media file's suffix -> its column


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

    def to_dict(self, curve: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not curve:
            data.pop("curve")
        return data


class EventStore:
    """Thread-safe: the scoring loop writes, the web server reads and marks events reviewed."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.media = self.folder / "media"
        self.media.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # a short busy timeout: a locked database fails a write at once, and the engine retries it later,
        # instead of holding up the scoring of every camera
        self._db = sqlite3.connect(self.folder / "events.db", check_same_thread=False, isolation_level=None,
                                   timeout=BUSY_TIMEOUT_S)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # the log is counted by retention like any file: kept short (checkpointed every 64 pages, cut back to
        # WAL_LIMIT_BYTES after each checkpoint, and truncated on every retention pass)
        self._db.execute("PRAGMA wal_autocheckpoint=64")
        self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        for column in ("media_error TEXT", "last_seen REAL", "why TEXT", "start_frame INTEGER",
                       "end_frame INTEGER", "motion TEXT", "label TEXT"):  # a database from before the column
            if column.split()[0] not in columns:
                self._db.execute(f"ALTER TABLE events ADD COLUMN {column}")
        used = [self._db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0],
                *[r[0] for r in self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'")]]
        self._next_id = 1 + max(used)  # ids are never reused, even those of deleted events
        self._recover()

    def _recover(self) -> None:
        """After a crash: events left open end at their last recorded frame; a clip cut off is
        rebuilt from its journal of frames into a whole one and attached; a snapshot cut off, and
        media files no row names, are attached to their event's row if it exists, else deleted."""
        with self._lock:
            self._db.execute("UPDATE events SET end = COALESCE(last_seen, start) WHERE end IS NULL")
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

    def touch(self, event_id: int, seen: float, peak_score: float, peak_frame: int,
              why: dict[str, Any] | None = None) -> None:
        """An open event's latest frame time (so a crash ends it there) and its peak so far, with
        what made the peak unusual."""
        with self._lock:  # (SQLite computes every SET from the row as it was)
            self._db.execute("UPDATE events SET last_seen = ?, peak_score = MAX(peak_score, ?), "
                             "peak_frame = CASE WHEN ? > peak_score THEN ? ELSE peak_frame END, "
                             "why = CASE WHEN ? >= peak_score AND ? IS NOT NULL THEN ? ELSE why END "
                             "WHERE id = ? AND end IS NULL",
                             (seen, peak_score, peak_score, peak_frame, peak_score, _json(why), _json(why),
                              event_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _one(self, sql: str, args: tuple) -> Event | None:
        with self._lock:
            row = self._db.execute(f"SELECT * FROM events {sql}", args).fetchone()
        return None if row is None else _event(row)

    def reserve_id(self) -> int:
        """The id of the next event, known before its row is written (the row may have to wait)."""
        with self._lock:
            event_id, self._next_id = self._next_id, self._next_id + 1
        return event_id

    def open(self, camera: str, start: float, score: float, frame: int, event_id: int | None = None,
             why: dict[str, Any] | None = None, start_frame: int | None = None) -> Event:
        with self._lock:
            event_id = self._next_id if event_id is None else event_id
            self._next_id = max(self._next_id, event_id + 1)
            self._db.execute("INSERT OR IGNORE INTO events (id, camera, start, peak_score, peak_frame, why, "
                             "start_frame) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (event_id, camera, start, score, frame, _json(why), frame if start_frame is None
                              else start_frame))
        event = self.get(event_id)
        assert event is not None
        return event

    def note_media_error(self, event_id: int, message: str) -> None:
        """Why one of the event's files could not be saved (the first reason is kept)."""
        with self._lock:
            self._db.execute("UPDATE events SET media_error = COALESCE(media_error, ?) WHERE id = ?",
                             (message[:300], event_id))

    def update_peak(self, event_id: int, score: float, frame: int) -> None:
        with self._lock:
            self._db.execute("UPDATE events SET peak_score = ?, peak_frame = ? WHERE id = ? AND peak_score < ?",
                             (score, frame, event_id, score))

    def close_event(self, event_id: int, end: float, curve: list[tuple[float, float]] | None = None,
                    end_frame: int | None = None) -> None:
        with self._lock:
            self._db.execute("UPDATE events SET end = ?, curve = ?, end_frame = COALESCE(?, end_frame) WHERE id = ?",
                             (end, json.dumps(curve or []), end_frame, event_id))

    def set_media(self, event_id: int, kind: str, name: str) -> None:
        """Record a media file (kind 'snapshot', 'clip' or 'motion') that now exists under the media folder."""
        if kind not in MEDIA_KINDS.values():
            raise ValueError(kind)
        with self._lock:
            self._db.execute(f"UPDATE events SET {kind} = ? WHERE id = ?", (name, event_id))
            row = self._db.execute("SELECT snapshot, clip, motion FROM events WHERE id = ?", (event_id,)).fetchone()
            size = sum((self.media / n).stat().st_size for n in row if n and (self.media / n).is_file())
            self._db.execute("UPDATE events SET bytes = ? WHERE id = ?", (size, event_id))

    def set_reviewed(self, event_id: int, reviewed: bool = True) -> bool:
        with self._lock:
            cursor = self._db.execute("UPDATE events SET reviewed = ? WHERE id = ?", (int(reviewed), event_id))
        return cursor.rowcount == 1

    def set_label(self, event_id: int, label: str | None, who: str, model: str | None = None) -> None:
        """An operator's verdict on an event ('normal', 'anomaly', or None: undone), recorded in `feedback`."""
        if label not in ("normal", "anomaly", None):
            raise ValueError(label)
        with self._lock:
            row = self._db.execute("SELECT camera FROM events WHERE id = ?", (event_id,)).fetchone()
            if row is None:
                raise KeyError(event_id)
            self._db.execute("BEGIN")
            try:
                self._db.execute("UPDATE events SET label = ? WHERE id = ?", (label, event_id))
                self._db.execute("INSERT INTO feedback (event_id, camera, label, at, who, model) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", (event_id, row[0], label or "undo", time.time(), who,
                                                               model))
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise

    def feedback(self, camera: str | None = None) -> list[dict[str, Any]]:
        """Every verdict, oldest first."""
        sql = "SELECT event_id, camera, label, at, who, model FROM feedback"
        with self._lock:
            rows = self._db.execute(sql + (" WHERE camera = ?" if camera else "") + " ORDER BY id",
                                    (camera,) if camera else ()).fetchall()
        return [dict(zip(("event_id", "camera", "label", "at", "who", "model"), r)) for r in rows]

    def add_camera(self, cam: CameraConfig) -> None:
        """A camera added while serve runs, watched again after a restart."""
        with self._lock:
            self._db.execute("INSERT INTO cameras (name, source, fps, threshold, min_frames, end_frames, learn, "
                             "added) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (cam.name, cam.source, cam.fps, cam.threshold, cam.min_frames, cam.end_frames, cam.learn,
                              time.time()))

    def added_cameras(self) -> list[CameraConfig]:
        with self._lock:
            rows = self._db.execute("SELECT name, source, fps, threshold, min_frames, end_frames, learn FROM cameras "
                                    "ORDER BY added").fetchall()
        return [CameraConfig(name, source, threshold, min_frames, fps=fps, end_frames=end_frames, learn=learn)
                for name, source, fps, threshold, min_frames, end_frames, learn in rows]

    def get(self, event_id: int) -> Event | None:
        return self._one("WHERE id = ?", (event_id,))

    def list(self, camera: str | None = None, since: float | None = None, until: float | None = None,
             reviewed: bool | None = None, limit: int = 100) -> list[Event]:
        """Newest first, filtered."""
        where, args = [], []
        for clause, value in (("camera = ?", camera), ("start >= ?", since), ("start <= ?", until),
                              ("reviewed = ?", None if reviewed is None else int(reviewed))):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = "SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY start DESC, id DESC LIMIT ?", (*args, limit)).fetchall()
        return [_event(r) for r in rows]

    def media_path(self, event_id: int, kind: str) -> Path | None:
        """The file of an event's snapshot, clip or motion, looked up from the database."""
        event = self.get(event_id)
        name = None if event is None else getattr(event, kind)
        if name is None:
            return None
        path = self.media / name
        return path if path.is_file() else None

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
        """Delete closed events (rows and files), oldest first, while one is older than max_age_s,
        the storage folder holds more than max_bytes, or the disk has less than min_free_bytes free.
        Open events, and events an operator confirmed as anomalies, are never deleted. Returns how many
        were deleted."""
        now = time.time() if now is None else now
        free_bytes = free_bytes or (lambda: shutil.disk_usage(self.folder).free)
        total = self.folder_bytes() if max_bytes is not None else 0
        deleted = 0
        with self._lock:
            rows = self._db.execute("SELECT id, start, snapshot, clip, motion FROM events WHERE end IS NOT NULL "
                                    "AND label IS NOT 'anomaly' ORDER BY start, id").fetchall()
            for event_id, start, *files in rows:
                too_old = max_age_s is not None and now - start > max_age_s
                too_big = max_bytes is not None and total > max_bytes
                too_full = min_free_bytes is not None and free_bytes() < min_free_bytes
                if not (too_old or too_big or too_full):
                    break
                for name in files:
                    if name:
                        path = self.media / name
                        total -= path.stat().st_size if path.is_file() else 0
                        path.unlink(missing_ok=True)
                self._db.execute("DELETE FROM events WHERE id = ?", (event_id,))
                deleted += 1
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL counts too: give its pages back
        return deleted


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value)


def _event(row: tuple) -> Event:
    (event_id, camera, start, end, peak_score, peak_frame, snapshot, clip, size, reviewed, curve, media_error,
     last_seen, why, start_frame, end_frame, motion, label) = row
    return Event(event_id, camera, start, end, peak_score, peak_frame, snapshot, clip, size, bool(reviewed),
                 json.loads(curve) if curve else None, media_error, last_seen, json.loads(why) if why else None,
                 start_frame, end_frame, motion, label)


def _event_id(name: str) -> int | None:
    """'event_12.webm', 'event_12.motion.pt' or 'event_12.partial.webm' -> 12."""
    stem = name.split(".", 1)[0]
    number = stem.removeprefix("event_")
    return int(number) if stem.startswith("event_") and number.isdigit() else None

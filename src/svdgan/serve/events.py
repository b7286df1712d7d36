"""The event store of `svdgan serve`: one SQLite database (WAL), one row per event.

An event opens when a camera's alert starts and closes when it ends. Its snapshot and clip are
files under the store's media folder, named from the event's id (never from request text), and
are deleted with their row by retention, oldest first.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
    curve TEXT                    -- JSON [[unix time, score], ...] from the pre-roll to the end
);
CREATE INDEX IF NOT EXISTS events_start ON events (start);
CREATE INDEX IF NOT EXISTS events_camera ON events (camera, start);
"""


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
        self._db = sqlite3.connect(self.folder / "events.db", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        with self._lock:  # an event left open by a crash ends where its last update left it
            self._db.execute("UPDATE events SET end = start WHERE end IS NULL")
        for partial in self.media.glob(".*.partial.*"):  # a clip or snapshot cut off by a crash
            partial.unlink()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _one(self, sql: str, args: tuple) -> Event | None:
        with self._lock:
            row = self._db.execute(f"SELECT * FROM events {sql}", args).fetchone()
        return None if row is None else _event(row)

    def open(self, camera: str, start: float, score: float, frame: int) -> Event:
        with self._lock:
            cursor = self._db.execute("INSERT INTO events (camera, start, peak_score, peak_frame) VALUES (?, ?, ?, ?)",
                                      (camera, start, score, frame))
        event = self.get(int(cursor.lastrowid))
        assert event is not None
        return event

    def update_peak(self, event_id: int, score: float, frame: int) -> None:
        with self._lock:
            self._db.execute("UPDATE events SET peak_score = ?, peak_frame = ? WHERE id = ? AND peak_score < ?",
                             (score, frame, event_id, score))

    def close_event(self, event_id: int, end: float, curve: list[tuple[float, float]] | None = None) -> None:
        with self._lock:
            self._db.execute("UPDATE events SET end = ?, curve = ? WHERE id = ?",
                             (end, json.dumps(curve or []), event_id))

    def set_media(self, event_id: int, kind: str, name: str) -> None:
        """Record a media file (kind 'snapshot' or 'clip') that now exists under the media folder."""
        if kind not in ("snapshot", "clip"):
            raise ValueError(kind)
        with self._lock:
            self._db.execute(f"UPDATE events SET {kind} = ? WHERE id = ?", (name, event_id))
            row = self._db.execute("SELECT snapshot, clip FROM events WHERE id = ?", (event_id,)).fetchone()
            size = sum((self.media / n).stat().st_size for n in row if n and (self.media / n).is_file())
            self._db.execute("UPDATE events SET bytes = ? WHERE id = ?", (size, event_id))

    def set_reviewed(self, event_id: int, reviewed: bool = True) -> bool:
        with self._lock:
            cursor = self._db.execute("UPDATE events SET reviewed = ? WHERE id = ?", (int(reviewed), event_id))
        return cursor.rowcount == 1

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
        """The file of an event's snapshot or clip, looked up from the database."""
        event = self.get(event_id)
        name = None if event is None else (event.snapshot if kind == "snapshot" else event.clip)
        if name is None:
            return None
        path = self.media / name
        return path if path.is_file() else None

    def enforce_retention(self, max_age_s: float | None = None, max_bytes: int | None = None,
                          now: float | None = None) -> int:
        """Delete closed events (rows and files) older than max_age_s, then the oldest until the
        media total is within max_bytes. Returns how many were deleted."""
        now = time.time() if now is None else now
        deleted = 0
        with self._lock:
            rows = self._db.execute("SELECT id, start, bytes, snapshot, clip FROM events "
                                    "WHERE end IS NOT NULL ORDER BY start, id").fetchall()
            total = self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM events").fetchone()[0]
            for event_id, start, size, snapshot, clip in rows:
                too_old = max_age_s is not None and now - start > max_age_s
                too_big = max_bytes is not None and total > max_bytes
                if not (too_old or too_big):
                    break
                for name in (snapshot, clip):
                    if name:
                        (self.media / name).unlink(missing_ok=True)
                self._db.execute("DELETE FROM events WHERE id = ?", (event_id,))
                total -= size
                deleted += 1
        return deleted


def _event(row: tuple) -> Event:
    (event_id, camera, start, end, peak_score, peak_frame, snapshot, clip, size, reviewed, curve) = row
    return Event(event_id, camera, start, end, peak_score, peak_frame, snapshot, clip, size, bool(reviewed),
                 json.loads(curve) if curve else None)

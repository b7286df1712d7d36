"""A site: several `svdgan serve --worker` processes sharing one PostgreSQL database.

Each camera is scored by one worker at a time, the one holding its lease: a row lock taken by one
UPDATE of the camera's row, on the database's clock. A worker renews its leases every `renew_s`;
a lease it has not renewed for `lease_s` may be taken by another worker, and a worker that cannot
reach the database stops scoring before its leases can run out (its own clock, counted from the
moment it asked), so a camera is never scored twice. Workers share the cameras evenly: each takes
free cameras up to its share (cameras / live workers, rounded up) and lets go of those beyond it.
Every heartbeat stores the worker's cameras' health, which any worker's page, or a review process,
shows for the whole site.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from svdgan.defaults import RENEW_S, TAKEOVER_S
from svdgan.errors import UserError
from svdgan.serve.store import EventStore, StoreError

NOW = "EXTRACT(EPOCH FROM clock_timestamp())"  # the database's clock: every worker's leases on one clock


@dataclass
class Holding:
    """A site's camera as the database has it."""
    camera: str
    holder: str | None
    lease_until: float | None
    health: dict[str, Any] | None  # as its holder's latest heartbeat gave it
    url: str | None  # its holder's page
    silent_s: float | None = None  # since its holder's latest heartbeat


class Site:
    """One process's view of its site (a worker's or a review process's)."""

    def __init__(self, store: EventStore, name: str, url: str | None, takeover_s: float = TAKEOVER_S,
                 renew_s: float = RENEW_S):
        if not store.postgres:
            raise UserError("a site's workers share one PostgreSQL database: pass --db postgresql://USER@HOST/NAME")
        if not 0 < renew_s < takeover_s / 3:
            raise UserError(f"site: renewing every {renew_s} s must be under a third of the takeover time "
                            f"{takeover_s} s")
        self.store, self.name, self.url = store, name, url
        self.renew_s = renew_s
        # a lease runs out, another worker's next round finds it (within renew_s) and starts the camera
        # (a second or so): within takeover_s of the worker's last renewal
        self.lease_s = takeover_s - 2 * renew_s
        self.started = time.time()

    def _run(self, sql: str, args: dict[str, Any]) -> list[tuple]:
        with self.store.engine.begin() as conn:
            result = conn.execute(sa.text(sql), args)
            return [tuple(r) for r in result] if result.returns_rows else []

    def heartbeat(self, health: list[dict[str, Any]]) -> None:
        self._run("INSERT INTO workers (name, url, started, seen, health) "
                  f"VALUES (:name, :url, :started, {NOW}, :health) ON CONFLICT (name) DO UPDATE SET url = :url, "
                  f"started = :started, seen = {NOW}, health = :health",
                  {"name": self.name, "url": self.url, "started": self.started, "health": json.dumps(health)})

    def share(self) -> int:
        """Cameras this worker should hold: all of them over the workers alive now, rounded up."""
        [(cameras, alive)] = self._run(f"SELECT (SELECT COUNT(*) FROM cameras), (SELECT COUNT(*) FROM workers "
                                       f"WHERE seen > {NOW} - :lease OR name = :me)",
                                       {"lease": self.lease_s, "me": self.name})
        return math.ceil(cameras / max(alive, 1))

    def renew(self, held: list[str]) -> set[str]:
        """Renew this worker's leases; returns those it still holds (another may have taken one that ran out)."""
        if not held:
            return set()
        rows = self._run(f"UPDATE cameras SET lease_until = {NOW} + :lease WHERE holder = :me "
                         "AND name = ANY(:names) RETURNING name",
                         {"lease": self.lease_s, "me": self.name, "names": list(held)})
        return {r[0] for r in rows}

    def claim(self, wanted: int, held: list[str]) -> list[str]:
        """Take up to `wanted` cameras, besides those `held`, that nobody holds or whose lease ran out
        (an earlier process of this name's too); row locks skip what another worker is taking."""
        if wanted <= 0:
            return []
        rows = self._run(f"UPDATE cameras SET holder = :me, lease_until = {NOW} + :lease WHERE name IN ("
                         f"SELECT name FROM cameras WHERE (holder IS NULL OR lease_until < {NOW}) "
                         "AND NOT (name = ANY(:held)) ORDER BY name LIMIT :wanted FOR UPDATE SKIP LOCKED) "
                         "RETURNING name", {"me": self.name, "lease": self.lease_s, "wanted": wanted,
                                            "held": list(held)})
        return sorted(r[0] for r in rows)

    def release(self, names: list[str]) -> None:
        """Let go of cameras this worker has stopped scoring."""
        if names:
            self._run("UPDATE cameras SET holder = NULL, lease_until = NULL WHERE holder = :me AND name = ANY(:names)",
                      {"me": self.name, "names": list(names)})

    def silent_for(self) -> float | None:
        """Seconds since a worker of this name was last heard from (None: never, or it left)."""
        rows = self._run(f"SELECT {NOW} - seen FROM workers WHERE name = :me", {"me": self.name})
        return float(rows[0][0]) if rows else None

    def leave(self) -> None:
        self._run("DELETE FROM workers WHERE name = :me", {"me": self.name})

    def holdings(self) -> list[Holding]:
        """Every camera of the site, with its holder (None where its lease ran out) and health."""
        rows = self._run(f"SELECT c.name, c.holder, c.lease_until, c.lease_until > {NOW}, w.health, w.url, "
                         f"{NOW} - w.seen FROM cameras c LEFT JOIN workers w ON w.name = c.holder ORDER BY c.name", {})
        found = []
        for camera, holder, until, live, health, url, silent in rows:
            mine = next((h for h in json.loads(health or "[]") if h.get("camera") == camera), None)
            if mine is not None and silent is not None and silent > 2 * self.renew_s + 1:
                mine = {**mine, "state": "worker silent", "since": time.time() - float(silent), "fps": 0.0}
            found.append(Holding(camera, holder if live else None, until, mine if live else None,
                                 url if live else None, None if silent is None else float(silent)))
        return found

    def workers(self) -> list[dict[str, Any]]:
        rows = self._run(f"SELECT name, url, started, {NOW} - seen, (SELECT COUNT(*) FROM cameras c WHERE "
                         f"c.holder = w.name AND c.lease_until > {NOW}) FROM workers w ORDER BY name", {})
        return [{"name": n, "url": u, "started": s, "seen_s_ago": round(ago, 1), "alive": ago < self.lease_s,
                 "cameras": k} for n, u, s, ago, k in rows]


class SiteWorker(threading.Thread):
    """A worker's round, every `renew_s`: heartbeat, renew, let go of what is beyond its share, take
    free cameras up to it. `start_camera(name)` and `stop_camera(name)` are the engine's; a camera is
    released only after it has stopped scoring."""

    def __init__(self, site: Site, start_camera: Callable[[str], None], stop_camera: Callable[[str], None],
                 health: Callable[[], list[dict[str, Any]]], on_fault: Callable[[str, BaseException | None], None]):
        super().__init__(name="svdgan-site", daemon=True)
        self.site, self.start_camera, self.stop_camera = site, start_camera, stop_camera
        self.health, self.on_fault = health, on_fault
        self.held: list[str] = []
        self.deadline = 0.0  # monotonic: past it, this worker cannot know its leases still run
        self.stop = threading.Event()

    def run(self) -> None:
        self.wait_for_namesake()
        while not self.stop.is_set():
            self.round()
            self.stop.wait(self.site.renew_s)
        self.drop(self.held)
        try:
            self.site.release(self.held)
            self.site.leave()
        except StoreError:
            pass  # its leases run out instead
        self.held = []

    def wait_for_namesake(self) -> None:
        """A worker of this name heard from within a lease: this one restarted after a crash (its
        leases have not run out yet) or a second process was given the same name. Either way its
        cameras may still be scored: wait until it has been silent for a lease."""
        told = False
        while not self.stop.is_set():
            try:
                silent = self.site.silent_for()
            except StoreError as exc:
                self.on_fault("site", exc)
                silent = 0.0
            if silent is None or silent >= self.site.lease_s:
                return
            if not told:
                print(f"svdgan: site: a worker named {self.site.name} was heard from {silent:.0f} s ago: waiting until "
                      f"its leases run out ({self.site.lease_s:.0f} s), or give this one another --worker name",
                      file=sys.stderr, flush=True)
                told = True
            self.stop.wait(self.site.renew_s)

    def round(self) -> None:
        asked = time.monotonic()
        try:
            self.site.heartbeat(self.health())
            kept = self.site.renew(self.held)
            self.deadline = asked + self.site.lease_s - self.site.renew_s  # a margin of one round
            self.drop([c for c in self.held if c not in kept])  # taken by another: its lease had run out
            share = self.site.share()
            if len(self.held) > share:  # a worker joined: give it cameras
                surplus = self.held[share:]
                self.drop(surplus)
                self.site.release(surplus)
            for camera in self.site.claim(share - len(self.held), self.held):
                try:
                    self.site.store.recover_camera(camera)  # what its last holder left open ends
                    self.start_camera(camera)
                except Exception as exc:  # noqa: BLE001 (one camera that cannot start must not stop the others)
                    self.on_fault(f"camera {camera}", exc)
                    self.site.release([camera])
                    continue
                self.held.append(camera)
        except StoreError as exc:
            self.on_fault("site", exc)
            if time.monotonic() > self.deadline and self.held:
                print(f"svdgan: site: the database is out of reach: stopped scoring {', '.join(self.held)} "
                      "before another worker takes them over", file=sys.stderr, flush=True)
                self.drop(self.held)
            return
        self.on_fault("site", None)

    def drop(self, cameras: list[str]) -> None:
        for camera in list(cameras):
            self.stop_camera(camera)
            if camera in self.held:
                self.held.remove(camera)

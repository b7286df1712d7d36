"""Faults of `svdgan serve`'s parts (a camera, the media folder, the database, MQTT): each is logged
once when it starts and once when it clears, counted, and shown on the health panel and
/api/stats, while everything else goes on."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    error: str  # the latest error, one line
    since: float  # Unix time of the first failure in this run of failures
    count: int = 1  # failures since then
    lost: int = 0  # things that could not be saved because of it (a snapshot, a clip, ...)


class Faults:
    """Thread-safe: the scoring thread records, the web server reads."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()

    def failed(self, part: str, exc: BaseException | str, lost: int = 0) -> None:
        error = (exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}").splitlines()[0][:300]
        with self._lock:
            fault = self._faults.get(part)
            if fault is None:
                self._faults[part] = Fault(error, time.time(), lost=lost)
                print(f"svdgan: {part}: {error} (it goes on; retried)", file=sys.stderr, flush=True)
            else:
                fault.error, fault.count, fault.lost = error, fault.count + 1, fault.lost + lost

    def ok(self, part: str) -> None:
        with self._lock:
            fault = self._faults.pop(part, None)
        if fault is not None:
            print(f"svdgan: {part}: working again after {time.time() - fault.since:.0f} s and {fault.count} "
                  f"failure(s){f', {fault.lost} not saved' if fault.lost else ''}", file=sys.stderr, flush=True)

    def note(self, part: str, exc: BaseException | None) -> None:
        """`failed` with the error, or `ok` with None."""
        if exc is None:
            self.ok(part)
        else:
            self.failed(part, exc)

    def get(self, part: str) -> Fault | None:
        with self._lock:
            return self._faults.get(part)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {part: {"error": f.error, "since": f.since, "count": f.count, "lost": f.lost}
                    for part, f in self._faults.items()}

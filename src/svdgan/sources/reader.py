"""Reader threads: each source decoded on its own thread into a queue (a live source keeps only
its newest frame, so a slow model skips frames instead of falling behind; a file loses none),
and the newest frame of every source that has one, taken together.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from svdgan.errors import UserError
from svdgan.sources.video import Frame, Source

_END = object()


class SourceReader(threading.Thread):
    def __init__(self, source: Source):
        super().__init__(daemon=True)
        self.source = source
        self.queue: queue.Queue = queue.Queue(maxsize=1 if source.live else 8)
        self.error: str | None = None
        self.dropped = 0
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            for frame in self.source.frames():
                item = (frame, time.perf_counter())
                if self.source.live:
                    while True:  # keep only the newest frame
                        try:
                            self.queue.put_nowait(item)
                            break
                        except queue.Full:
                            try:
                                self.queue.get_nowait()
                                self.dropped += 1
                            except queue.Empty:
                                pass
                else:
                    self._put(item)
                if self.stop.is_set():
                    break
        except UserError as exc:
            self.error = str(exc)
        self._put(_END)

    def _put(self, item: object) -> None:
        """Into the queue, waiting while it is full, unless stopped meanwhile (then nobody reads it)."""
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


def next_frames(readers: list[SourceReader], ended: set[int] | None = None, idle_s: float | None = None
                ) -> Iterator[list[tuple[int, Frame, float]]]:
    """The next frame of every source that has one; waits while none has (`idle_s`: an empty batch
    after that long, so the caller can do its other work). Readers appended to the list meanwhile
    join in (a camera added to a running server); it ends when every reader has. `ended`: the
    readers known to have ended (or stopped by the caller), kept across calls."""
    ended = set() if ended is None else ended
    waited_since = time.monotonic()
    while len(ended) < len(readers):
        batch = []
        for i in range(len(readers)):
            if i in ended:
                continue
            try:
                item = readers[i].queue.get_nowait()
            except queue.Empty:
                continue
            if item is _END:
                ended.add(i)
            else:
                batch.append((i, *item))
        if batch or (idle_s is not None and time.monotonic() - waited_since > idle_s):
            yield batch
            waited_since = time.monotonic()
        elif len(ended) < len(readers):
            time.sleep(0.001)

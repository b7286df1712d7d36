"""Evidence for an event: a ring buffer of each camera's recent frames for the clip's pre-roll,
the clip itself and a snapshot of the peak frame with the error heat map over it.

Clips are WebM (VP8): browsers play it natively, and OpenCV's bundled FFmpeg writes it (its
H.264 encoder is missing from the pip wheels, and browsers do not play MPEG-4 part 2 'mp4v').

Both files are written under a temporary name and renamed into place, so a kill at any moment
leaves either no file or a complete one. A clip being written also keeps a journal of its frames
(length-prefixed JPEGs, flushed every frame), since the encoder holds its last tens of kilobytes
in memory: after a crash the event store rebuilds the clip from the journal (`rebuild_clip`).
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from svdgan.live.overlay import error_scale, mark, with_heat
from svdgan.memory.explain import Why

JOURNAL_MAGIC = b"SVDJ1"


@dataclass
class Recorded:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    errors: np.ndarray | None  # (S, S) the generator's per-pixel squared error (None: no generator)
    score: float
    why: Why | None = None  # what made it unusual, and where


def snapshot(path: Path, item: Recorded, quality: int = 90) -> None:
    """The frame (left) and the frame with its error heat map (right), as JPEG; the frame is marked
    with what made it unusual, where that is known."""
    frame = cv2.cvtColor(item.image, cv2.COLOR_RGB2BGR)
    heat = with_heat(frame, item.errors, error_scale(item.errors), 0.6)
    if item.why is not None:
        frame = frame.copy()
        mark(frame, item.why, 1.0)
    tmp = path.with_name(f".{path.name}.partial.jpg")
    if not cv2.imwrite(str(tmp), np.hstack([frame, heat]), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"cannot write {path}")
    os.replace(tmp, path)


@dataclass
class ClipWriter:
    """Frames of one event from its pre-roll until `post_frames` after it ends; WebM (VP8)."""

    path: Path
    fps: float
    post_frames: int
    event_id: int = 0
    remaining: int | None = None  # frames still to write once the event has ended
    frames: int = 0
    _writer: cv2.VideoWriter | None = field(default=None, repr=False)
    _journal: BinaryIO | None = field(default=None, repr=False)

    @property
    def tmp(self) -> Path:
        return self.path.with_name(f".{self.path.stem}.partial.webm")

    @property
    def journal(self) -> Path:
        return journal_path(self.path)

    def write(self, image: np.ndarray) -> None:
        frame = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        if self._writer is None:
            h, w = frame.shape[:2]
            level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # FFmpeg's note on the VP8 tag
            try:
                self._writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"vp80"), self.fps, (w, h))
            finally:
                cv2.utils.logging.setLogLevel(level)
            if not self._writer.isOpened():
                raise OSError(f"cannot write {self.path}")
            self.size = (w, h)
            self._journal = open(self.journal, "wb")
            self._journal.write(JOURNAL_MAGIC + struct.pack("<f", self.fps))
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size)
        self._writer.write(frame)
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if ok:
            self._journal.write(struct.pack("<I", len(jpeg)) + jpeg.tobytes())
            self._journal.flush()  # in the OS's hands: it outlives a killed process
        self.frames += 1
        if self.remaining is not None:
            self.remaining -= 1

    def end(self) -> None:
        """The event has ended: write post_frames more, then finish."""
        self.remaining = self.post_frames

    @property
    def done(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def finish(self) -> bool:
        """Close and move into place; False if nothing was written."""
        if self._writer is None:
            return False
        self._writer.release()
        self._writer = None
        os.replace(self.tmp, self.path)
        self._close_journal()
        return True

    def _close_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self.journal.unlink(missing_ok=True)

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self.tmp.unlink(missing_ok=True)
        self._close_journal()


def journal_path(clip: Path) -> Path:
    return clip.with_name(f".{clip.stem}.journal")


def journal_frames(journal: Path) -> tuple[float, Iterator[np.ndarray]]:
    """The frame rate of a clip's journal and its BGR frames (a record cut off by a crash ends them)."""
    with open(journal, "rb") as f:
        head = f.read(len(JOURNAL_MAGIC) + 4)
    if len(head) < len(JOURNAL_MAGIC) + 4 or not head.startswith(JOURNAL_MAGIC):
        return 0.0, iter(())
    (fps,) = struct.unpack("<f", head[len(JOURNAL_MAGIC):])
    return fps, _records(journal, len(head))


def _records(journal: Path, start: int) -> Iterator[np.ndarray]:
    with open(journal, "rb") as f:
        f.seek(start)
        while len(head := f.read(4)) == 4:
            (size,) = struct.unpack("<I", head)
            data = f.read(size)
            if len(data) < size:
                return
            frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if frame is None:
                return
            yield frame


def rebuild_clip(journal: Path, clip: Path) -> bool:
    """A whole clip from the journal of one cut off by a crash (moved away from the name the new
    clip's own journal takes); False if it holds no frame."""
    fps, frames = journal_frames(journal)
    writer = ClipWriter(clip, fps if 0 < fps < 1000 else 10.0, 0)
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    if writer.frames == 0:
        writer.discard()
        return False
    return writer.finish()


class Recorder:
    """One camera's ring buffer and the clip being written, if any."""

    def __init__(self, pre_frames: int, post_frames: int, fps: float):
        self.recent: deque[Recorded] = deque(maxlen=pre_frames + 1)  # the pre-roll and the alert frame
        self.pre_frames, self.post_frames, self.fps = pre_frames, post_frames, fps
        self.clip: ClipWriter | None = None

    def push(self, item: Recorded) -> ClipWriter | None:
        """Add a frame; returns a clip that has just been completed (to be attached), if any."""
        self.recent.append(item)
        if self.clip is None:
            return None
        self.clip.write(item.image)
        if self.clip.done:
            finished, self.clip = self.clip, None
            return finished if finished.finish() else None
        return None

    def start_clip(self, path: Path, event_id: int) -> ClipWriter | None:
        """Begin a clip with the buffered pre-roll (the frames before the alert, and the alert's first).
        A clip still in its post-roll is finished first and returned (to be attached)."""
        finished = self.clip if self.clip is not None and self.clip.finish() else None
        self.clip = ClipWriter(path, self.fps, self.post_frames, event_id)
        for item in list(self.recent)[-self.pre_frames - 1:]:
            self.clip.write(item.image)
        return finished

    def end_clip(self) -> None:
        if self.clip is not None:
            self.clip.end()

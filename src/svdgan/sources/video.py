"""Video sources behind one small interface: `frames()` yields numbered, timed RGB frames.

    video file    path/to/clip.mp4      ends when the file ends (or breaks)
    frame folder  path/to/frames/       its images in natural order
    camera        0, 1, ...             live; reopened with back-off for as long as it runs
    stream URL    rtsp://..., http://.. live; reopened with back-off for as long as it runs
(the synthetic camera is sources/synthetic.py; sources/open.py picks the source a SOURCE names)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from svdgan.errors import UserError
from svdgan.sources.files import VIDEO_EXTENSIONS, image_files, read_image, to_rgb


@dataclass
class Frame:
    index: int  # 0-based position in the stream
    time: float  # seconds: position in the file (index / fps), or since the live source was opened
    image: np.ndarray  # (H, W, 3) uint8 RGB


class Source:
    """A named, possibly live, sequence of frames."""

    name: str
    live: bool = False
    fps: float | None = None

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError


class FolderSource(Source):
    def __init__(self, folder: Path):
        self.name, self.files = str(folder), image_files(folder)
        if not self.files:
            raise UserError(f"frame folder {folder} holds no images")

    def frames(self) -> Iterator[Frame]:
        first = None
        for i, file in enumerate(self.files):
            image = read_image(file)
            first = first or image.shape
            if image.shape != first:
                raise UserError(f"frame {file} is {image.shape[1]}x{image.shape[0]}, the folder's first frame "
                                f"{first[1]}x{first[0]}: mixed frame sizes")
            yield Frame(i, float(i), image)


def _log(message: str) -> None:
    print(f"svdgan: {message}", file=sys.stderr, flush=True)


class CaptureSource(Source):
    """An OpenCV capture: a video file, a camera or a URL.

    A live source that stops delivering frames is reopened after 0.5, 1, 2, ... seconds (at most
    `max_wait`), for as long as it runs (or `retries` times in a row, if given, before giving up);
    `reconnecting_since` says since when it has had no frames. A file that ends or breaks ends.
    """

    def __init__(self, name: str, opener: Callable[[], Any], live: bool, retries: int | None = None,
                 max_wait: float = 8.0, sleep: Callable[[float], None] = time.sleep):
        self.name, self.opener, self.live = redact(name), opener, live  # the name is logged: no password in it
        self.retries, self.max_wait, self.sleep = retries, max_wait, sleep
        self.reconnects = 0
        self.reconnecting_since: float | None = None  # Unix time of the drop; None while frames flow

    def _open(self) -> Any:
        capture = self.opener()
        if capture is None or not capture.isOpened():
            if capture is not None:
                capture.release()
            return None
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 0 < fps < 1000 else self.fps
        return capture

    def frames(self) -> Iterator[Frame]:
        capture = self._open()
        if capture is None and not self.live:
            raise UserError(f"cannot open video {self.name}")
        index, start, failures = 0, time.monotonic(), 0
        try:
            while True:
                ok, image = capture.read() if capture is not None else (False, None)
                if ok and image is not None and image.size:
                    if failures:
                        _log(f"{self.name}: frames again after {time.time() - self.reconnecting_since:.0f} s")
                    failures, self.reconnecting_since = 0, None
                    stamp = time.monotonic() - start if self.live or not self.fps else index / self.fps
                    yield Frame(index, stamp, to_rgb(image, self.name))
                    index += 1
                    continue
                if not self.live:
                    if index == 0:
                        raise UserError(f"video {self.name} has no readable frames")
                    _log(f"{self.name}: end of video after {index} frames")
                    return
                if capture is not None:
                    capture.release()
                    capture = None
                if self.retries is not None and failures >= self.retries:
                    _log(f"{self.name}: no frames after {failures} reconnection attempts; giving up")
                    return
                if self.reconnecting_since is None:
                    self.reconnecting_since = time.time()
                wait = min(0.5 * 2 ** failures, self.max_wait)
                failures += 1
                if failures <= 5 or failures & (failures - 1) == 0:  # the first attempts, then ever more rarely
                    of = f"/{self.retries}" if self.retries is not None else ""
                    _log(f"{self.name}: source dropped; reconnecting in {wait:g} s (attempt {failures}{of})")
                self.sleep(wait)
                capture = self._open()
                if capture is not None:
                    self.reconnects += 1
        finally:
            if capture is not None:
                capture.release()


def redact(url: str) -> str:
    """A URL without its secret: rtsp://user:secret@cam/1 -> rtsp://user:***@cam/1 (a user name alone,
    which may be a token, is hidden whole)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    shown = f"{parts.username}:***" if parts.password is not None and parts.username else "***"
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))


def opener_for(target: str | int) -> Callable[[], Any]:
    def open_it() -> Any:
        if isinstance(target, str) and "://" in target:
            return cv2.VideoCapture(target, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000,
                                                           cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000])
        return cv2.VideoCapture(target)
    return open_it


def open_file(path: Path) -> Source:
    """A video file or a frame folder (not live: every frame is read, none dropped)."""
    if path.is_dir():
        return FolderSource(path)
    if not path.is_file():
        raise UserError(f"source not found: {path}")
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise UserError(f"not a video file or frame folder: {path}")
    return CaptureSource(str(path), opener_for(str(path)), live=False)

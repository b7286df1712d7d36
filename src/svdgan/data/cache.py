"""A disk cache of decoded, resized videos: decode once, then memory-map.

Each video is stored as one `.npy` array (N, C, S, S) uint8 under the cache folder, named by
a hash of its path, its files' sizes and modification times, and the frame size and channels,
so a changed video or another model size gets a new entry. Memory-mapped arrays are paged in
and out by the operating system: a dataset larger than memory (ShanghaiTech: 274,515 training
frames) trains with bounded resident memory, and worker processes share the pages.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from svdgan.data.frames import VideoRef, resize
from svdgan.sources.files import image_files


def _fingerprint(video: VideoRef, size: int, channels: int) -> str:
    path = video.path.resolve()
    files = [path] if path.is_file() else image_files(path)
    h = hashlib.sha256(f"{path}|{size}|{channels}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def cached_video(video: VideoRef, size: int, channels: int, cache_dir: Path) -> np.ndarray:
    """The video's frames at model size, (N, channels, size, size) uint8, memory-mapped."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{_fingerprint(video, size, channels)}.npy"
    if not path.exists():
        frames = [resize(frame, size, channels) for frame in video.frames()]  # one video at a time
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".", suffix=".npy.tmp")
        os.close(fd)
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(frames), *frames[0].shape))
            for i, frame in enumerate(frames):
                out[i] = frame
            out.flush()
            del out
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return np.load(path, mmap_mode="r")

"""A camera of `svdgan serve` learning its own normal: its live frames' motion gathered, then fitted in
the background into its memory (the recipe that ships), with no model trained by hand.

While it learns, each frame's optical-flow cells are kept (a few KB a frame, not the frames) in parts
of PART_FRAMES frames, the folds its normal statistics are held out on. What was gathered is saved
every SAVE_EVERY_S seconds and on stop (storage/models/<camera>/learning.pt), so a restart goes on
learning where it was; once fitted, what was learnt stays (learnt.pt) for "learn more", which adds
new footage of the scene as it is now to the same memory.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from svdgan.config import Config
from svdgan.memory.bank import MotionMemory
from svdgan.memory.flow import FlowCells, to_grey
from svdgan.model.checkpoint import load_checkpoint, save_checkpoint
from svdgan.scoring.fusion import fuse_cell_scores

PART_FRAMES = 300  # frames a part (fold) of the footage learnt: 1 min at 5 frames/s
SAVE_EVERY_S = 5.0  # what was gathered is on disk at most this long after it was seen
RETRY_FIT_S = 30.0  # a fit that failed is tried again this long after


class Learner:
    """One camera's normal footage gathered as cells until `needed` frames, then fitted on a thread."""

    def __init__(self, folder: Path, needed: int, config: Config):
        self.folder, self.needed, self.config = folder, needed, config
        self.flow = FlowCells(config.memory.cell)
        self.previous: np.ndarray | None = None
        self.parts: list[list[torch.Tensor]] = [[]]  # this learning's cells, by part
        self.earlier: list[torch.Tensor] = []  # parts learnt before ("learn more" adds to them)
        self.frame_size: tuple[int, int] | None = None
        self.fitted: tuple[dict[str, Any], MotionMemory] | None = None
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._saved = self._failed = time.monotonic()
        self._resume()

    @property
    def gathered(self) -> int:
        return sum(len(part) for part in self.parts)

    @property
    def fitting(self) -> bool:
        return self._thread is not None and self.fitted is None and self.error is None

    def push(self, image: np.ndarray) -> None:
        """The camera's next frame (as read): its motion kept; the fit starts with the last one needed."""
        if self.gathered >= self.needed:
            if self.error is not None and time.monotonic() - self._failed >= RETRY_FIT_S:
                self.error = None
                self._start_fit()
            return
        grey = to_grey(image, self.config.memory.height)
        if self.frame_size not in (None, grey.shape):  # the camera changed its frame size: start over
            self.parts, self.previous = [[]], None
        self.frame_size = grey.shape
        self.parts[-1].append(self.flow(self.previous, grey).half())
        self.previous = grey
        if len(self.parts[-1]) >= PART_FRAMES:
            self.parts.append([])
        if self.gathered >= self.needed:
            self.save()
            self._start_fit()
        elif time.monotonic() - self._saved >= SAVE_EVERY_S:
            self.save()

    def progress(self, fps: float) -> dict[str, Any]:
        """For the page and /api/stats: frames gathered, of how many, the time left, or fitting."""
        left = max(self.needed - self.gathered, 0)
        return {"learning": "fitting" if self.fitting else "failed" if self.error else "gathering",
                "learn_frames": self.gathered, "learn_needed": self.needed,
                "learn_seconds_left": round(left / fps, 1) if fps > 0 else None, "learn_error": self.error}

    def _start_fit(self) -> None:
        self._thread = threading.Thread(target=self._fit, name="svdgan-learning", daemon=True)
        self._thread.start()

    def _fit(self) -> None:
        try:
            parts = [*self.earlier, *[torch.stack(p) for p in self.parts if p]]
            self.fitted = fuse_cell_scores([p.float() for p in parts], self.frame_size, self.config)
            save_checkpoint(self.folder / "learnt.pt", {"parts": parts, "frame_size": list(self.frame_size)})
            (self.folder / "learning.pt").unlink(missing_ok=True)
        except Exception as exc:  # noqa: BLE001 (a fit that fails is shown on the page and tried again)
            self.error, self._failed = f"{type(exc).__name__}: {exc}", time.monotonic()

    def save(self) -> None:
        """What was gathered so far, atomically: a restart resumes from it."""
        self._saved = time.monotonic()
        if self.fitted is not None or self.frame_size is None:
            return
        save_checkpoint(self.folder / "learning.pt", {"needed": self.needed, "frame_size": list(self.frame_size),
                                                       "parts": [torch.stack(p) for p in self.parts if p]})

    def _resume(self) -> None:
        learnt, learning = self.folder / "learnt.pt", self.folder / "learning.pt"
        if learnt.is_file():
            payload = load_checkpoint(learnt)
            self.earlier, self.frame_size = list(payload["parts"]), tuple(payload["frame_size"])
        if learning.is_file():
            payload = load_checkpoint(learning)
            self.parts = [list(part) for part in payload["parts"]] + [[]]
            self.frame_size = tuple(payload["frame_size"])

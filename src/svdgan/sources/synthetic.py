"""A synthetic camera: the synthetic scene rendered live, with its own normal clips to calibrate on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np

from svdgan.sources.scene import ANOMALY_KINDS, Scene, SynthConfig, draw_background, render_video
from svdgan.sources.video import Frame, Source


class SynthSource(Source):
    """A live synthetic camera (`synthetic:SEED`): the demo scene of `svdgan synth` going on at
    `fps`; an anomaly enters during every `anomaly_every`-th clip of `clip_frames` frames (each kind
    of `sources.scene.ANOMALY_KINDS` in turn), after the first `normal_first` clips. For `svdgan serve`
    with no set-up."""

    live = True

    def __init__(self, name: str, seed: int = 0, fps: float = 10.0, anomaly_every: int = 3, clip_frames: int = 80,
                 size: tuple[int, int] = (160, 120), sleep: Callable[[float], None] = time.sleep):
        self.name, self.seed, self.fps = name, seed, fps
        self.anomaly_every, self.sleep = anomaly_every, sleep
        self.cfg = SynthConfig(width=size[0], height=size[1], frames=clip_frames, seed=seed)
        self.normal_first = 0  # clips with no anomaly at the start of the stream (what a camera learns from)

    def labelled_clips(self) -> Iterator[tuple[list[np.ndarray], str | None, list[int]]]:
        """The live stream, one scene that goes on (no cut), in clips of `clip_frames` frames,
        forever: (frames, the kind of anomaly let in during the clip or None, the 0-based frames of
        the clip that show an anomaly)."""
        background, top, bottom = draw_background(self.cfg, np.random.default_rng([self.seed, 0]))
        rng = np.random.default_rng([self.seed, 3])
        scene, frames_per_clip, k = Scene(self.cfg, rng, background, top, bottom), self.cfg.frames, 0
        while True:
            odd = self.anomaly_every > 0 and k % self.anomaly_every == self.anomaly_every - 1 and k >= self.normal_first
            kind = ANOMALY_KINDS[(k // max(self.anomaly_every, 1)) % len(ANOMALY_KINDS)] if odd else None
            enters = int(rng.integers(frames_per_clip // 5, frames_per_clip // 2)) if odd else -1
            frames, labels = [], []
            for t in range(frames_per_clip):
                frame, shows = scene.next(kind if t == enters else None)
                frames.append(frame)
                if shows:
                    labels.append(t)
            yield frames, kind, labels
            k += 1

    def normal_clips(self, count: int) -> list[list[np.ndarray]]:
        """`count` normal clips of the same scene that the live stream never shows: its calibration."""
        background, top, bottom = draw_background(self.cfg, np.random.default_rng([self.seed, 0]))
        return [render_video(self.cfg, np.random.default_rng([self.seed, 4, k]), background, top, bottom, None)[0]
                for k in range(count)]

    def frames(self) -> Iterator[Frame]:
        start, index = time.monotonic(), 0
        for frames, _, _ in self.labelled_clips():
            for image in frames:
                wait = start + index / self.fps - time.monotonic()
                if wait > 0:
                    self.sleep(wait)
                yield Frame(index, time.monotonic() - start, image)
                index += 1

"""A synthetic camera: the synthetic scene rendered live, with its own normal clips to calibrate on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np

from svdgan.sources.video import Frame, Source


class SynthSource(Source):
    """A live synthetic camera (`synthetic:SEED`): the demo scene of `svdgan synth`, rendered in
    clips of `clip_frames` frames at `fps`; every `anomaly_every`-th clip holds an anomaly
    (each kind of `data.synth.ANOMALY_KINDS` in turn). For `svdgan serve` with no set-up."""

    live = True

    def __init__(self, name: str, seed: int = 0, fps: float = 10.0, anomaly_every: int = 3, clip_frames: int = 80,
                 size: tuple[int, int] = (160, 120), sleep: Callable[[float], None] = time.sleep):
        from svdgan.data.synth import SynthConfig

        self.name, self.seed, self.fps = name, seed, fps
        self.anomaly_every, self.sleep = anomaly_every, sleep
        self.cfg = SynthConfig(width=size[0], height=size[1], frames=clip_frames, seed=seed)

    def clips(self) -> Iterator[tuple[list[np.ndarray], bool]]:
        """Rendered clips, each with whether it holds an anomaly, forever."""
        from svdgan.data.synth import ANOMALY_KINDS, draw_background, render_video

        background, top, bottom = draw_background(self.cfg, np.random.default_rng([self.seed, 0]))
        k = 0
        while True:
            odd = self.anomaly_every > 0 and k % self.anomaly_every == self.anomaly_every - 1
            kind = ANOMALY_KINDS[(k // max(self.anomaly_every, 1)) % len(ANOMALY_KINDS)] if odd else None
            frames, _ = render_video(self.cfg, np.random.default_rng([self.seed, 3, k]), background, top, bottom, kind)
            yield frames, odd
            k += 1

    def frames(self) -> Iterator[Frame]:
        start, index = time.monotonic(), 0
        for frames, _ in self.clips():
            for image in frames:
                wait = start + index / self.fps - time.monotonic()
                if wait > 0:
                    self.sleep(wait)
                yield Frame(index, time.monotonic() - start, image)
                index += 1

"""Training clips: T frames at a temporal stride, never straddling two videos."""

from __future__ import annotations

import numpy as np
import torch

from svdgan.data.frames import to_model_range


class ClipSampler:
    """Draws batches of clips from preloaded videos ((N, C, S, S) uint8 arrays).

    The batch for a given step depends only on (seed, step), so a resumed run sees exactly
    the clips that the uninterrupted run would have seen.
    """

    def __init__(self, videos: list[np.ndarray], clip_len: int, strides: tuple[int, ...], seed: int):
        self.videos = videos
        self.clip_len = clip_len
        self.seed = seed
        index = []
        for v, frames in enumerate(videos):
            for stride in strides:
                span = (clip_len - 1) * stride + 1
                for start in range(len(frames) - span + 1):
                    index.append((v, start, stride))
        if not index:
            raise ValueError(f"no video is long enough for a clip of {clip_len} frames")
        self.index = np.array(index, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def clip(self, i: int) -> np.ndarray:
        v, start, stride = self.index[i]
        return self.videos[v][start:start + (self.clip_len - 1) * stride + 1:stride]

    def batch(self, step: int, batch_size: int) -> torch.Tensor:
        """(B, T, C, S, S) float clips in [-1, 1] for training step `step`."""
        rng = np.random.default_rng([self.seed, step])
        picks = rng.choice(len(self.index), size=batch_size, replace=len(self.index) < batch_size)
        return to_model_range(np.stack([self.clip(i) for i in picks]))

"""Per-frame anomaly scores of whole videos (paper Sec. 3.5): each frame from its causal window.

Frame t is reconstructed as the last frame of the causal window [t-T+1, t]: the ConvLSTM
stack runs over those frames and only frame t is decoded. The first T-1 frames of a video
get the shorter window [0, t], so every frame has a score and no score uses the future.
With `model.target: predict` the window is [t-T, t-1] and frame t is predicted from it.
This is what a live stream can compute, and `svdgan detect` reproduces it exactly.

Two documented options refine the paper's frame mean squared error (`score` config):
`patch` scores a frame by its worst k x k patch, so a small anomaly is not averaged away
by a large normal background; `smooth` averages a frame's score with the previous ones
(causal, so it still runs live).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from svdgan.config import Config
from svdgan.data.frames import to_model_range
from svdgan.model.generator import FrameFeatures, Generator
from svdgan.utils.series import causal_smooth


class VideoScores(NamedTuple):
    scores: np.ndarray  # (N,) anomaly score per frame (squared error, see frame_errors)
    recons: dict[int, np.ndarray]  # frame index -> (C, S, S) reconstruction in [-1, 1], if asked
    maps: np.ndarray | None = None  # (N, S, S) float16 per-pixel squared error, if asked


def patch_errors(recon: torch.Tensor, target: torch.Tensor, patch: int = 0) -> torch.Tensor:
    """(B, P, P) mean squared error of each patch x patch window, half-overlapping (patch 0: of
    each pixel, P = S)."""
    error = (recon.float() - target.float()).pow(2).mean(1, keepdim=True)  # (B, 1, S, S)
    if patch:
        error = F.avg_pool2d(error, patch, stride=max(patch // 2, 1))
    return error[:, 0]


def frame_score(errors: torch.Tensor, patch: int = 0) -> torch.Tensor:
    """(B,) from patch_errors' (B, P, P): the worst patch, or the frame mean when patch is 0."""
    errors = errors.flatten(1)
    return errors.amax(1) if patch else errors.mean(1)


def frame_errors(recon: torch.Tensor, target: torch.Tensor, patch: int = 0) -> torch.Tensor:
    """(B,) mean squared error of each frame (patch 0) or of its worst patch x patch window."""
    return frame_score(patch_errors(recon, target, patch), patch)


class EncodedWindows(NamedTuple):
    frames: torch.Tensor  # (N, C, S, S) the frames the windows span, channels-last
    features: FrameFeatures  # of each of those frames, computed once
    steps: torch.Tensor  # (B, window) each window's frame indices into `frames`
    latent: torch.Tensor  # (B, window, Cz, s, s) the ConvLSTM stack's output over each window


def encode_windows(generator: Generator, frames: torch.Tensor, ends: list[int], window: int) -> EncodedWindows:
    """The windows [t-window+1, t], t in `ends` (equal lengths), through the encoder: overlapping
    windows share their frames' per-frame features; the ConvLSTM runs over each window."""
    first = ends[0] - window + 1
    chunk = frames[first:ends[-1] + 1].contiguous(memory_format=torch.channels_last)
    features = generator.encoder.frame_features(chunk)
    steps = (torch.tensor(ends) - first)[:, None] + torch.arange(-window + 1, 1)[None, :]
    latent, _ = generator.encoder.temporal(features.skip2[steps])
    return EncodedWindows(chunk, features, steps, latent)


def _decode(generator: Generator, encoded: EncodedWindows, latent: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Frames `idx` of encoded.frames, with their latents (N, Cz, s, s), decoded: (N, C, S, S)."""
    skips = FrameFeatures(encoded.features.skip1[idx], encoded.features.skip2[idx])
    return generator.decode(latent, skips, encoded.frames[idx])


@torch.inference_mode()
def reconstruct_windows(generator: Generator, frames: torch.Tensor, ends: list[int], window: int,
                        patch: int = 0, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate frames[t + offset] from frames[t-window+1 .. t] for every t in `ends` (equal
    windows); returns the generated frames (B, C, S, S) and their errors (B,)."""
    encoded = encode_windows(generator, frames, ends, window)
    recon = _decode(generator, encoded, encoded.latent[:, -1], encoded.steps[:, -1])  # only each window's last
    targets = frames[torch.tensor(ends) + offset]
    return recon, frame_errors(recon, targets, patch)


@torch.inference_mode()
def generate_windows(generator: Generator, frames: torch.Tensor, ends: list[int], window: int,
                     decode_chunk: int = 1) -> torch.Tensor:
    """The authors' test procedure: every frame of each window [t-window+1, t], t in `ends`, is
    generated; returns (B, window, C, S, S), equal to `generator.reconstruct` of the stacked windows.

    Computed without changing that result: overlapping windows share their frames' per-frame
    features, and the decoder runs one frame at a time, so its 128x128 activations stay in the
    CPU cache instead of filling and faulting in memory."""
    encoded = encode_windows(generator, frames, ends, window)
    latent, steps = encoded.latent.flatten(0, 1), encoded.steps.flatten()
    outputs = [_decode(generator, encoded, latent[i:i + decode_chunk], steps[i:i + decode_chunk])
               for i in range(0, len(steps), decode_chunk)]
    return torch.cat(outputs).unflatten(0, (len(ends), window))


def window_end(t: int, offset: int) -> int:
    """Last input frame for frame t. Frame 0 has no past when predicting: it is generated from itself."""
    return max(t - offset, 0)


def score_video(generator: Generator, frames: np.ndarray, config: Config,
                keep: set[int] | None = None, maps: bool = False) -> VideoScores:
    """Scores for every frame of one video, frames (N, C, S, S) uint8, with the options of `config`."""
    clip_len, offset, opts = config.model.clip_len, config.target_offset, config.score
    video = to_model_range(frames)
    n = len(video)
    scores = np.empty(n, dtype=np.float64)
    recons: dict[int, np.ndarray] = {}
    error_maps = np.empty((n, *video.shape[2:]), np.float16) if maps else None
    short = [t for t in range(n) if window_end(t, offset) < clip_len - 1]  # windows shorter than T
    full = [t for t in range(n) if window_end(t, offset) >= clip_len - 1]
    groups = [[t] for t in short] + [full[i:i + opts.batch_size] for i in range(0, len(full), opts.batch_size)]
    for group in groups:
        ends = [window_end(t, offset) for t in group]
        window = min(clip_len, ends[0] + 1)
        recon, errors = reconstruct_windows(generator, video, ends, window, opts.patch,
                                            offset if group[0] else 0)
        scores[group] = errors.double().numpy()
        if error_maps is not None:
            error_maps[group] = (recon.float() - video[group]).pow(2).mean(1).numpy()
        for j, t in enumerate(group):
            if keep and t in keep:
                recons[t] = recon[j].float().numpy()
    return VideoScores(causal_smooth(scores, opts.smooth), recons, error_maps)


def first_input_frame(t: int, config: Config) -> int:
    """The earliest frame that frame t's score depends on."""
    return max(window_end(t, config.target_offset) - config.model.clip_len + 1, 0)


def normal_scores(generator: Generator, videos: list[np.ndarray], config: Config) -> list[np.ndarray]:
    """Scores of normal frames (train.stats_frames, spread over the videos: the first frames of each)."""
    per_video = max(config.model.clip_len, config.train.stats_frames // max(len(videos), 1))
    return [score_video(generator.eval(), v[:per_video], config).scores for v in videos]

"""Streaming scores: one new frame per stream in, its anomaly score out, for many streams at once.

Each frame's per-frame encoder features are computed once, when it arrives.
    exact: the frame's latent is the ConvLSTM stack's output over its causal window (the last T
           frames), so scores equal `svdgan evaluate`'s. Each stream keeps the T windows that
           are open (one starting at each of its last T frames); every new frame advances them all
           by one step, as one batch, and starts a new one: the same arithmetic as running each
           window from its start, without recomputing its first steps, and batched.
    fast:  the ConvLSTM state is carried from frame to frame (one step per layer per frame),
           so a frame's latent summarises the whole stream so far instead of the last T frames.
In both, only the newest frame is decoded.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from svdgan.config import Config
from svdgan.data.frames import to_model_range
from svdgan.model.generator import FrameFeatures, Generator
from svdgan.model.layers import LSTMState
from svdgan.scoring.video import frame_errors
from svdgan.utils.fpmode import flushed_denormals
from svdgan.utils.series import CausalMean

MODES = ("exact", "fast")


class BatchScores(NamedTuple):
    scores: np.ndarray  # (B,) raw scores (after the config's causal smoothing)
    errors: torch.Tensor  # (B, 1, S, S) per-pixel squared error of the newest frames
    recon: torch.Tensor  # (B, C, S, S) generated frames in [-1, 1]


def batch_scores(generated: torch.Tensor, frames: torch.Tensor, recent: list[CausalMean],
                 patch: int) -> BatchScores:
    """Errors of the generated frames, each stream's score smoothed over its `recent` raw scores."""
    errors = (generated.float() - frames.float()).pow(2).mean(1, keepdim=True)
    raw = frame_errors(generated, frames, patch).double().numpy()
    return BatchScores(np.array([mean.push(r) for mean, r in zip(recent, raw)]), errors, generated)


class _Stream:
    """What one stream carries between frames."""

    def __init__(self, clip_len: int, smooth: int):
        self.count = 0  # frames seen
        self.windows: list[LSTMState] | None = None  # exact: each layer's state of the open windows, oldest first
        self.states: list[LSTMState] | None = None  # fast: the carried ConvLSTM state
        self.last: FrameFeatures | None = None  # features of the previous frame
        self.last_frame: torch.Tensor | None = None  # the previous frame (1, C, S, S)
        self.last_latent: torch.Tensor | None = None  # fast: the latent after the previous frame
        self.recent = CausalMean(smooth)  # raw scores, for causal smoothing


class StreamScorer:
    def __init__(self, generator: Generator, config: Config, mode: str = "exact", precision: str = "fp32"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if precision not in ("fp32", "bf16"):
            raise ValueError("precision must be fp32 or bf16 (resolve 'auto' with precision.resolve_precision)")
        self.generator = generator.eval()
        self.config = config
        self.mode = mode
        self.bf16 = precision == "bf16"  # bfloat16 autocast: faster on CPUs with AVX512-BF16, scores differ slightly
        self.streams: dict[int, _Stream] = {}
        self.ignore: dict[int, torch.Tensor] = {}  # stream -> (1, S, S) 1 where scored, 0 where ignored

    def set_ignore(self, stream: int, keep: torch.Tensor | None) -> None:
        """Regions of a stream not scored (a tree in the wind, a clock): `keep` (S, S) is 1 where the
        error counts and 0 where it does not; the generated frame there is taken as perfect."""
        if keep is None:
            self.ignore.pop(stream, None)
        else:
            self.ignore[stream] = keep.float().reshape(1, *keep.shape[-2:])

    def reset(self, stream: int) -> None:
        """Forget a stream's past (e.g. after its source reconnected)."""
        self.streams.pop(stream, None)

    @torch.inference_mode()
    @flushed_denormals()  # denormal activations are slow on CPUs
    def push(self, frames: torch.Tensor, streams: list[int] | None = None) -> BatchScores:
        """frames (B, C, S, S) in [-1, 1], the newest frame of each of `streams` (default 0..B-1)."""
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            return self._push(frames, streams)

    def _push(self, frames: torch.Tensor, streams: list[int] | None) -> BatchScores:
        streams = list(range(len(frames))) if streams is None else streams
        cfg = self.config
        states = [self.streams.setdefault(s, _Stream(cfg.model.clip_len, cfg.score.smooth)) for s in streams]
        frames = frames.contiguous(memory_format=torch.channels_last)
        features = self.generator.encoder.frame_features(frames)  # once per frame
        newest = [FrameFeatures(features.skip1[i:i + 1], features.skip2[i:i + 1]) for i in range(len(states))]
        # Predicting, frame t is generated from the input that ends at frame t-1 (frame 0: from itself).
        from_previous = [cfg.target_offset == 1 and st.count > 0 for st in states]
        if self.mode == "exact":
            latents = self._window_latents(states, newest, from_previous)
        else:
            latents = self._carried_latents(states, newest, from_previous)
        skips = [st.last if prev else new for st, new, prev in zip(states, newest, from_previous)]
        skips = FrameFeatures(torch.cat([f.skip1 for f in skips]), torch.cat([f.skip2 for f in skips]))
        bases = torch.cat([st.last_frame if prev else frames[i:i + 1]
                           for i, (st, prev) in enumerate(zip(states, from_previous))])
        recon = self.generator.decode(latents, skips, bases)  # only the newest frames are decoded
        if self.ignore:
            keep = torch.stack([self.ignore.get(s, torch.ones(1, 1, 1)).expand(1, *frames.shape[-2:])
                                for s in streams])  # (B, 1, S, S)
            recon = recon * keep + frames * (1 - keep)
        for i, (st, new) in enumerate(zip(states, newest)):
            st.last, st.last_frame = new, frames[i:i + 1]
            st.count += 1
        return batch_scores(recon, frames, [st.recent for st in states], cfg.score.patch)

    def _window_latents(self, states: list[_Stream], newest: list[FrameFeatures],
                        from_previous: list[bool]) -> torch.Tensor:
        """Exact: each stream's open windows take one step with its new frame and a new window starts
        at it; the oldest window ends here, and its output is the latent of the window [t-T+1, t]."""
        encoder, clip_len = self.generator.encoder, self.config.model.clip_len
        old = [0 if st.windows is None else len(st.windows[0][0]) for st in states]  # open windows per stream
        # rows: every stream's open windows (oldest first), then one new window per stream
        owner = [i for i, n in enumerate(old) for _ in range(n)] + list(range(len(states)))
        starts = np.cumsum([0, *old])
        n_old = int(starts[-1])
        x, new_states = None, []
        for k, (lstm, norm) in enumerate(zip(encoder.lstms, encoder.lstm_norms)):
            if k == 0:  # the first layer's input is the frame itself: its gates are shared by its windows
                gates = lstm.input_gates(torch.cat([f.skip2 for f in newest]))[owner]
            else:
                gates = lstm.input_gates(x)
            carried = [st.windows[k] for st, n in zip(states, old) if n]
            previous = (torch.cat([h for h, _ in carried]), torch.cat([c for _, c in carried])) if carried else None
            hidden, cell = lstm.step_and_start(gates, previous)
            x = norm(hidden)
            new_states.append((hidden, cell))
        latents = []
        for i, st in enumerate(states):
            rows = [*range(int(starts[i]), int(starts[i + 1])), n_old + i]  # its windows, oldest first
            latents.append(x[rows[0]:rows[0] + 1])  # the oldest window ends at this frame
            if len(rows) == clip_len:  # that one has seen T frames: done
                rows = rows[1:]
            st.windows = [(hidden[rows], cell[rows]) for hidden, cell in new_states]
        return _latents_to_decode(states, latents, from_previous)

    def _carried_latents(self, states: list[_Stream], newest: list[FrameFeatures],
                         from_previous: list[bool]) -> torch.Tensor:
        """Fast: one ConvLSTM step per layer from the carried state."""
        stepped: list[torch.Tensor | None] = [None] * len(states)
        fresh = [i for i, st in enumerate(states) if st.states is None]
        carried = [i for i, st in enumerate(states) if st.states is not None]
        for group in (g for g in (fresh, carried) if g):
            state = None
            if group is carried:
                layers = len(states[group[0]].states)
                state = [(torch.cat([states[i].states[k][0] for i in group]),
                          torch.cat([states[i].states[k][1] for i in group])) for k in range(layers)]
            skip2 = torch.cat([newest[i].skip2 for i in group])[:, None]  # (B, 1, C, h, w)
            latent, new_state = self.generator.encoder.temporal(skip2, state)
            for j, i in enumerate(group):
                states[i].states = [(h[j:j + 1], c[j:j + 1]) for h, c in new_state]
                stepped[i] = latent[j:j + 1, 0]
        return _latents_to_decode(states, stepped, from_previous)


def _latents_to_decode(states: list[_Stream], now: list[torch.Tensor], from_previous: list[bool]) -> torch.Tensor:
    """Each stream's latent to decode: this frame's, or (predicting) the one that ended at the previous frame."""
    latents = []
    for st, latent, prev in zip(states, now, from_previous):
        latents.append(st.last_latent if prev else latent)
        st.last_latent = latent
    return torch.cat(latents)


def stream_video(scorer: StreamScorer, frames: np.ndarray) -> np.ndarray:
    """Scores of a whole video, frames (N, C, S, S) uint8, pushed one at a time as a new stream."""


    stream = max(scorer.streams, default=-1) + 1
    video = to_model_range(frames)
    scores = np.array([scorer.push(video[t:t + 1], [stream]).scores[0] for t in range(len(video))])
    scorer.reset(stream)
    return scores

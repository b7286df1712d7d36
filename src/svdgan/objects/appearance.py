"""The SVD-GAN on what moves: the paper's generator trained on clips of crops that follow each
normal object (objects/crops.py), whose error on an object's newest crop is that object's `error`
attribute, beside its place, size, motion and look.

It reconstructs the newest crop (the paper's target) with no skips from the encoder to the
decoder, so the crop's own details cannot pass to the output: to reconstruct an object it must
have learnt what normal objects look like and how they move. It is an option
(`memory.objects: [..., error]`), trained by `svdgan train` and `svdgan calibrate`
(training/objects.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from svdgan.config import Config, MemoryConfig, apply_overrides, config_from_dict
from svdgan.errors import UserError
from svdgan.model.generator import FrameFeatures, Generator
from svdgan.objects.attributes import SeenObject
from svdgan.objects.crops import CropClips

CROP = 32  # px per side of an object's crops
LENGTH = 7  # T, crops per clip (the paper's)
BATCH = 256  # objects per forward pass when scoring


def object_generator_config(memory: MemoryConfig) -> Config:
    """The generator on objects' config: the paper's model and losses on 1-channel 32 px crops."""
    return apply_overrides(Config(), [
        f"model.size={CROP}", "model.channels=1", f"model.clip_len={LENGTH}", "model.target=reconstruct",
        "model.skips=false", "train.precision=fp32", f"train.steps={memory.object_steps}",
        f"train.batch_size={memory.object_batch}", f"loss.svd={memory.object_svd}"])


def as_input(clips: np.ndarray) -> torch.Tensor:
    """(B, T, S, S) uint8 crops -> (B, T, 1, S, S) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(clips)).float().div_(127.5).sub_(1).unsqueeze(2)


class ObjectGenerator:
    """A trained generator on objects and the log error it gives an object it cannot score yet
    (the first frames of a stream, before a clip is full): the normal objects' median."""

    def __init__(self, generator: Generator, config: Config, fill: float = 0.0):
        self.generator, self.config, self.fill = generator.eval(), config, fill

    @torch.no_grad()
    def log_errors(self, clips: np.ndarray) -> np.ndarray:
        """(n, T, S, S) uint8 clips -> (n,) log mean squared error of each generated newest crop."""
        out = []
        for i in range(0, len(clips), BATCH):
            x = as_input(clips[i:i + BATCH])
            latent, skips = self.generator.encoder(x)
            b, t = x.shape[:2]
            newest = FrameFeatures(*(s.unflatten(0, (b, t))[:, -1] for s in skips))
            generated = self.generator.decode(latent[:, -1], newest, x[:, -1])
            out.append(torch.log((generated - x[:, -1]).pow(2).mean((1, 2, 3)) + 1e-6))
        return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)

    def stream(self) -> ErrorStream:
        return ErrorStream(self)

    def add_to_video(self, greys: np.ndarray, frames: Sequence[list[SeenObject]]) -> None:
        """Sets every object's `error` attribute in a video (its grey frames and their objects)."""
        stream = self.stream()
        for grey, objects in zip(greys, frames, strict=True):
            stream.push(grey, objects)

    def to_payload(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "weights": self.generator.state_dict(), "fill": self.fill}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ObjectGenerator:
        try:
            config = config_from_dict(payload["config"])
            generator = Generator(config.model)
            generator.load_state_dict(payload["weights"])
            return cls(generator, config, float(payload["fill"]))
        except (KeyError, TypeError, RuntimeError, UserError) as exc:
            reason = str(exc).strip().splitlines()[0][:200]
            raise UserError(f"the checkpoint's generator on objects is malformed: {reason}") from None


class ErrorStream:
    """One stream's crops: sets each new object's `error` attribute, a frame at a time."""

    def __init__(self, model: ObjectGenerator):
        self.model = model
        self.crops = CropClips(model.config.model.clip_len, model.config.model.size)

    def push(self, grey: np.ndarray, objects: list[SeenObject]) -> None:
        clips = self.crops.push(grey, objects)
        errors = self.model.log_errors(clips) if clips is not None and len(objects) else np.full(
            len(objects), self.model.fill)
        for seen, error in zip(objects, errors, strict=True):
            seen.attributes["error"] = np.array([error], np.float32)


def normal_clips(greys: Sequence[np.ndarray], frames: Sequence[Sequence[list[SeenObject]]], length: int = LENGTH,
                 size: int = CROP) -> np.ndarray:
    """(N, T, S, S) uint8: every normal object's clip, over videos (grey frames and their objects)."""
    out = []
    for video, objects in zip(greys, frames, strict=True):
        crops = CropClips(length, size)
        for grey, seen in zip(video, objects, strict=True):
            clips = crops.push(grey, seen)
            if clips is not None and len(clips):
                out.append(clips)
    return np.concatenate(out) if out else np.zeros((0, length, size, size), np.uint8)

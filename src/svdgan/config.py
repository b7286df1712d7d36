"""Configuration: nested dataclasses, loaded from YAML and `key=value` overrides.

`Config()` is the detector that ships (src/svdgan/weights/ped2.pt): the memory of normal motion
alone, scores averaged over 5 frames. The model, loss and train sections are the paper's SVD-GAN
(128 px, T = 7, batch 3) and matter only where a recipe turns the generator on (configs/paper.yaml).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from svdgan.errors import UserError


@dataclass
class ModelConfig:
    size: int = 128  # frames are resized to size x size
    channels: int = 1  # 1 = grayscale, 3 = RGB (grayscale sources are replicated; the paper's)
    clip_len: int = 7  # T, frames per clip
    conv1_channels: int = 128  # first per-frame conv (5x5, stride 2)
    conv2_channels: int = 64  # second per-frame conv (3x3, stride 2)
    lstm_channels: tuple[int, ...] = (64, 32, 64, 128)  # ConvLSTM stack; the first has stride 2
    decoder_channels: int = 128  # the last two transposed convolutions
    separable: bool = True  # depthwise-separable per-frame convolutions (False: ordinary conv)
    separable_lstm: bool = False  # depthwise-separable gate convolutions inside the ConvLSTM
    target: str = "reconstruct"  # "reconstruct" frame t from [t-T+1, t] (paper); "predict" it from [t-T, t-1]
    residual: bool = False  # predict: generate frame t as frame t-1 plus the decoder's output (the change)
    zero_init: bool = False  # residual: the decoder's last layer starts at zero, so training starts from "copy t-1"
    skips: bool = True  # the decoder adds each frame's encoder features (False: all passes through the latent)


@dataclass
class LossConfig:
    adversarial: float = 1.0
    contextual: float = 20.0
    encoder: float = 1.0
    svd: float = 1.0
    svd_rank: int = 8
    adversarial_kind: str = "abs"  # "abs": |D(X) - D(G(X))| (paper); "features": authors' feature matching
    contextual_kind: str = "l1"  # "l1": mean |X - G(X)| (paper); "l2": mean squared, which weighs large errors more


@dataclass
class TrainConfig:
    steps: int = 3000
    batch_size: int = 3
    strides: tuple[int, ...] = (1, 2)  # temporal strides of training clips
    lr_generator: float = 1e-3  # Adam
    lr_discriminator: float = 5e-5  # RMSProp
    weight_decay: float = 0.0
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 200
    preview_every: int = 500
    threads: int = 0  # torch CPU threads; 0 = torch's default
    precision: str = "auto"  # "auto": bf16 where the hardware has it natively, else fp32; or "fp32", "bf16"
    stats_frames: int = 400  # normal training frames scored at the end for score statistics
    cache_dir: str = ""  # decoded, resized videos are kept here as memory-mapped .npy ("": in memory)
    workers: int = 0  # processes that prepare the next batches (0: the training process itself)


@dataclass
class ScoreConfig:
    batch_size: int = 8  # windows scored per forward pass
    patch: int = 0  # 0: mean squared error of the frame; k: of its worst k x k patch (model pixels)
    smooth: int = 5  # causal moving average of a frame's score over the last `smooth` frames
    generator: bool = False  # true: the SVD-GAN's error scores the frames (with the memory's, if enabled)


@dataclass
class MemoryConfig:
    """The memory of normal motion (memory/bank.py), and its options."""

    enabled: bool = True  # false: the generator alone scores (configs/paper.yaml)
    height: int = 240  # optical flow on the grey frame at this height (aspect kept)
    cell: int = 32  # px per side of the cells whose motion is remembered and compared
    every: int = 2  # every n-th normal frame goes into the memory
    max_frames: int = 4000  # at most this many normal frames, evenly spread over the footage
    max_taught: int = 2000  # at most this many frames taught as normal after fitting; the oldest teaching leaves first
    weight: float = 1.0  # the motion score's weight in the sum (both in standard deviations of normal scores)
    motion: bool = True  # the cells' motion counts (false: an ablation, the other parts alone)
    look: bool = False  # the looks of the cells that move count too (memory/look.py)
    objects: tuple[str, ...] = ()  # object groups added to the cells' score (place, size, motion, look, error)
    object_steps: int = 1000  # with the `error` group: training steps of the generator on objects
    object_batch: int = 16  # and its clips per step
    object_svd: float = 1.0  # and the SVD loss's weight in its training (0: without it, to test the paper's claim)


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)

    @property
    def target_offset(self) -> int:
        """How many frames the generated frame lies after the last input frame (0 or 1)."""
        return 1 if self.model.target == "predict" else 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> Config:
        m, loss, t = self.model, self.loss, self.train
        checks = [
            (m.size >= 8 and m.size % 8 == 0, "model.size must be a multiple of 8"),
            (m.channels in (1, 3), "model.channels must be 1 or 3"),
            (m.clip_len >= 1, "model.clip_len must be at least 1"),
            (m.target in ("reconstruct", "predict"), "model.target must be 'reconstruct' or 'predict'"),
            (m.target == "predict" or not m.residual, "model.residual needs model.target: predict "
             "(reconstructing, the last input frame is the answer)"),
            (m.residual or not m.zero_init, "model.zero_init needs model.residual: true"),
            (len(m.lstm_channels) >= 1, "model.lstm_channels needs at least one layer"),
            (all(c > 0 for c in (m.conv1_channels, m.conv2_channels, m.decoder_channels, *m.lstm_channels)),
             "channel counts must be positive"),
            (loss.svd_rank >= 1, "loss.svd_rank must be at least 1"),
            (loss.adversarial_kind in ("abs", "features"), "loss.adversarial_kind must be 'abs' or 'features'"),
            (loss.contextual_kind in ("l1", "l2"), "loss.contextual_kind must be 'l1' or 'l2'"),
            (all(w >= 0 for w in (loss.adversarial, loss.contextual, loss.encoder, loss.svd)),
             "loss weights must be non-negative"),
            (t.steps >= 1 and t.batch_size >= 1, "train.steps and train.batch_size must be at least 1"),
            (len(t.strides) >= 1 and all(s >= 1 for s in t.strides), "train.strides must be positive integers"),
            (t.lr_generator > 0 and t.lr_discriminator > 0, "learning rates must be positive"),
            (min(t.log_every, t.checkpoint_every, t.preview_every, t.stats_frames) >= 1,
             "train.log_every, checkpoint_every, preview_every and stats_frames must be at least 1"),
            (t.threads >= 0, "train.threads must be >= 0"),
            (t.workers >= 0, "train.workers must be >= 0"),
            (t.precision in ("auto", "fp32", "bf16"), "train.precision must be 'auto', 'fp32' or 'bf16'"),
            (self.score.batch_size >= 1, "score.batch_size must be at least 1"),
            (0 <= self.score.patch <= m.size, "score.patch must be between 0 and model.size"),
            (self.score.smooth >= 1, "score.smooth must be at least 1"),
            (16 <= self.memory.height <= 2160, "memory.height must be between 16 and 2160"),
            (2 <= self.memory.cell <= self.memory.height, "memory.cell must be between 2 and memory.height"),
            (self.memory.every >= 1 and self.memory.max_frames >= 1 and self.memory.max_taught >= 1,
             "memory.every, max_frames and max_taught must be >= 1"),
            (self.memory.weight >= 0, "memory.weight must be non-negative"),
            (set(self.memory.objects) <= {"place", "size", "motion", "look", "error"} and len(
                set(self.memory.objects)) == len(self.memory.objects),
             "memory.objects must be distinct groups of place, size, motion, look, error"),
            (self.memory.object_steps >= 1 and self.memory.object_batch >= 1,
             "memory.object_steps and object_batch must be at least 1"),
            (self.memory.object_svd >= 0, "memory.object_svd must be non-negative"),
            (self.memory.enabled or not self.memory.objects, "memory.objects needs memory.enabled: true"),
            (self.memory.motion or self.memory.look or self.memory.objects,
             "memory.motion: false needs memory.look or memory.objects (something must score the frames)"),
            (self.score.generator or self.memory.enabled, "score.generator: false needs memory.enabled: true "
             "(something must score the frames)"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(f"bad config: {message}")
        return self


_ELEMENTS = {"memory.objects": ""}  # the element type of a list whose default is empty


def _coerce(value: Any, default: Any, key: str) -> Any:
    """Convert a YAML/CLI value to the type of the field's default, or raise UserError."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, tuple):
        if isinstance(value, str):
            value = yaml.safe_load(value if value.strip().startswith("[") else f"[{value}]")
        if isinstance(value, (list, tuple)):
            element = default[0] if default else _ELEMENTS.get(key, 0)
            return tuple(_coerce(v, element, key) for v in value)
    raise UserError(f"bad config value for {key}: {value!r} (expected {type(default).__name__})")


def _apply(config: Config, key: str, value: Any) -> None:
    section_name, _, name = key.partition(".")
    section = getattr(config, section_name, None) if name else None
    if section is None or not dataclasses.is_dataclass(section) or name not in {
        f.name for f in dataclasses.fields(section)
    }:
        raise UserError(f"unknown config key: {key}")
    setattr(section, name, _coerce(value, getattr(section, name), key))


def read_yaml_mapping(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """A YAML file whose top level is a mapping, or UserError with one line saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{what} {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} {path} must be a mapping of sections")
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the YAML file (sections `model`, `loss`, `train`, `score`, `memory`), then `key=value`s."""
    config = Config()
    if path is not None:
        data = read_yaml_mapping(path)
        for section, values in data.items():
            if not isinstance(values, dict):
                raise UserError(f"config section {section!r} in {path} must be a mapping")
            for name, value in values.items():
                _apply(config, f"{section}.{name}", value)
    return apply_overrides(config, overrides or [])


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Apply `section.key=value` strings in place; returns the validated config."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"override must be key=value, got {item!r}")
        _apply(config, key.strip(), value.strip())
    return config.validate()


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a Config saved in a checkpoint."""
    config = Config()
    for section, values in data.items():
        for name, value in values.items():
            _apply(config, f"{section}.{name}", value)
    return config.validate()

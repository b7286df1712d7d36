"""Checkpoints: written atomically, read with weights_only=True (no code runs on load)."""

from __future__ import annotations

import pickle
import warnings
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from svdgan.config import Config, config_from_dict
from svdgan.errors import UserError
from svdgan.model.generator import Generator, fuse_for_inference
from svdgan.utils.files import atomic_write

FORMAT = "svdgan-checkpoint/1"


# The shipped UCSD Ped2 model (`python -m benchmarks.ped2 --ship`), package data, used when no --checkpoint is given.
SHIPPED_WEIGHTS = Path(str(resources.files("svdgan") / "weights" / "ped2.pt"))


def default_checkpoint(path: str | Path | None) -> Path:
    """`path`, or the shipped weights when it is None."""
    if path is not None:
        return Path(path)
    if not SHIPPED_WEIGHTS.is_file():
        raise UserError(f"no --checkpoint given and the shipped weights are missing ({SHIPPED_WEIGHTS})")
    return SHIPPED_WEIGHTS


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: torch.save({"format": FORMAT, **payload}, tmp))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # e.g. a pickle protocol note: the error line says enough
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError,
            AttributeError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights only load failed" in reason.lower():  # torch's advice (weights_only=False) is unsafe
            reason = "not a plain-weights file (corrupt, or a pickle that would run code; svdgan never runs it)"
        raise UserError(f"cannot load checkpoint {path}: {reason[:200]}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not an svdgan checkpoint")
    return payload


def generator_from(payload: dict[str, Any], config: Config, path: str | Path) -> Generator:
    """A checkpoint's generator, ready for scoring (eval mode, batch norms folded); its payload keeps
    the unfused state dicts."""
    if "generator" not in payload:
        raise UserError(f"{path} has no generator (it scores with its memory of normal motion alone): "
                        "score.generator must stay false")
    try:
        generator = Generator(config.model)
        generator.load_state_dict(payload["generator"])
    except (KeyError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise UserError(f"checkpoint {path} does not match svdgan's model: {reason[:200]}") from None
    return fuse_for_inference(generator).to(memory_format=torch.channels_last)


def load_generator(path: str | Path) -> tuple[Generator, Config, dict[str, Any]]:
    """The generator of a checkpoint that has one, its config and the whole payload."""
    payload = load_checkpoint(path)
    try:
        config = config_from_dict(payload["config"])
    except (KeyError, AttributeError, UserError) as exc:
        raise UserError(f"checkpoint {path} does not match svdgan's model: {str(exc)[:200]}") from None
    return generator_from(payload, config, path), config, payload

"""`svdgan calibrate`: a scoring-only model file with normal-score statistics from normal footage.

Training ends with statistics of its own training frames. Calibrating again is how a model
is pointed at a new camera (statistics of that camera's normal footage), how another score
option (`score.patch`, `score.smooth`) gets statistics that match it, and how weights are
released: the output keeps the generator, config and statistics, and drops the
discriminator and optimiser state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm import tqdm

from .checkpoint import load_generator, save_checkpoint
from .config import apply_overrides
from .data.datasets import discover
from .data.frames import load_video
from .errors import UserError
from .scoring import normal_score_stats


def score_overrides(overrides: list[str]) -> list[str]:
    """Only `score.*` keys may change after training: the rest describe the trained weights."""
    for item in overrides:
        if not item.strip().startswith("score."):
            raise UserError(f"only score.* settings can change after training, got {item!r}")
    return overrides


def calibrate(checkpoint: str | Path, data: str | Path, out: str | Path, overrides: list[str] | None = None,
              frames: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Write `out` (scoring-only checkpoint); returns the new statistics."""
    generator, config, payload = load_generator(checkpoint)
    apply_overrides(config, score_overrides(overrides or []))
    if frames is not None:
        apply_overrides(config, [f"train.stats_frames={frames}"])
    dataset = discover(data)
    if not dataset.train:
        raise UserError(f"no normal (training) videos under {data}")
    videos = [load_video(v, config.model.size, config.model.channels)
              for v in tqdm(dataset.train, desc="loading normal videos", unit="video", disable=not progress)]
    stats = normal_score_stats(generator, videos, config)
    out = Path(out)
    if out.resolve() == Path(checkpoint).resolve():
        raise UserError("--out must differ from --checkpoint (the training checkpoint stays resumable)")
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, {"config": config.to_dict(), "step": payload.get("step"), "score_stats": stats,
                          "generator": payload["generator"], "calibrated_on": str(data)})
    return stats

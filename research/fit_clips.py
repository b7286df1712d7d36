"""Can the generator fit the motion of a few training clips? A diagnostic for the Ped2 findings.

    python -m research.fit_clips --data ../shared/data/ucsd_ped2 [--zero-init] [--kind l2]

Trains only the generator, on its contextual loss, on one fixed clip from each of the first
three training videos, and prints how far it gets past "copy frame t-1": its mean absolute
error beside the copy's, and the change it generates (motion_generated's ratio and correlation).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from benchmarks.baselines import change_stats
from svdgan.config import load_config
from svdgan.data.datasets import discover
from svdgan.data.frames import load_video, to_model_range
from svdgan.errors import UserError
from svdgan.model.generator import Generator
from svdgan.model.losses import contextual_loss


def fit_clips(data: Path, recipe: Path, size: int, steps: int, kind: str, lr: float, zero_init: bool,
              start: int = 40, n_videos: int = 3, report_every: int = 50) -> list[dict[str, float]]:
    config = load_config(recipe, [f"model.size={size}", f"model.zero_init={zero_init}",
                                  f"loss.contextual_kind={kind}"])
    if not config.target_offset or not config.model.residual:
        raise UserError("fit_clips needs a residual predicting recipe")
    torch.manual_seed(0)
    length = config.model.clip_len + 1
    clips = [to_model_range(load_video(v, size, config.model.channels))[start:start + length]
             for v in discover(data).train[:n_videos]]
    if any(len(c) < length for c in clips):
        raise UserError(f"the first {n_videos} training videos need {start + length} frames")
    x = torch.stack(clips)  # (B, T+1, C, S, S)
    inputs, targets = x[:, :-1], x[:, 1:]
    generator = Generator(config.model)
    optimizer = torch.optim.Adam(generator.parameters(), lr=lr)
    copy_l1 = contextual_loss(targets, inputs).item()  # the error of generating frame t-1 unchanged
    rows = []
    for step in range(steps + 1):
        recon, _ = generator.reconstruct(inputs)
        loss = contextual_loss(targets, recon, kind)
        if step % report_every == 0 or step == steps:
            with torch.no_grad():
                stats = change_stats(recon.detach(), inputs, targets)
            rows.append({"step": step, "l1": contextual_loss(targets, recon.detach()).item(),
                         "copy_l1": copy_l1, **stats})
            print(" ".join(f"{k}={v:.4g}" for k, v in rows[-1].items()), flush=True)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--recipe", default=Path("configs/svdgan_memory.yaml"), type=Path)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--kind", choices=["l1", "l2"], default="l1", help="contextual loss")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--zero-init", action="store_true")
    parser.add_argument("--start", type=int, default=40, help="first frame of each clip")
    args = parser.parse_args(argv)
    try:
        fit_clips(args.data, args.recipe, args.size, args.steps, args.kind, args.lr, args.zero_init, args.start)
    except UserError as exc:
        print(f"svdgan: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

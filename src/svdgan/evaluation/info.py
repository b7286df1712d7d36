"""`svdgan info`: what a model is and what it costs, the shipped detector by default.

The memory of normal motion: its frame size, cell grid, parts, how many normal vectors it holds and
searches and their bytes, and each stage's milliseconds a frame on this processor (a short run of
the synthetic camera through the Detector). Where the model or recipe has a generator: its
parameters per part and FLOPs per frame (model/info.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from svdgan.config import load_config
from svdgan.errors import UserError
from svdgan.evaluation.speed import detector_speed, fitted_recipe
from svdgan.model.info import format_info, model_info
from svdgan.scoring.detector import Detector
from svdgan.utils.hardware import describe, hardware

TIMED_FRAMES = 30  # frames of the synthetic camera timed for the cost by stage


def detector_info(checkpoint: str | Path | None = None, config_path: str | Path | None = None,
                  overrides: list[str] | None = None, timed: int = TIMED_FRAMES) -> dict[str, Any]:
    if checkpoint is not None and config_path is not None:
        raise UserError("give --checkpoint (a model file) or --config (a recipe)")
    if config_path is not None or overrides:
        config = load_config(config_path, overrides)
        info: dict[str, Any] = {"recipe": str(config_path) if config_path else "the defaults, with --set"}
        detector = fitted_recipe(config) if config.memory.enabled else None
    else:
        detector = Detector.load(checkpoint)
        config = detector.config
        info = {"checkpoint": str(detector.path), "fitted_on": detector.payload.get("calibrated_on")}
    if detector is not None and detector.memory is not None:
        memory = detector.memory
        info["memory"] = {"frame_size": list(memory.frame_size), "height": memory.config.height,
                          "cell": memory.config.cell, "grid": list(memory.grid), "parts": memory.parts,
                          **memory.size()}
    if detector is not None and timed:
        speed = detector_speed(detector, timed, streams=0)
        info["cost"] = {"stages_ms": speed["stages_ms"], "ms_per_frame": speed["ms_per_frame"],
                        "fps": speed["fps"], "frames_timed": speed["frames"], "hardware": hardware()}
    info["parts"] = detector.describe() if detector is not None else "the SVD-GAN's generator alone"
    info["generator"] = model_info(config.model) if config.score.generator else None
    return info


def format_detector_info(info: dict[str, Any]) -> str:
    lines = [f"{info.get('checkpoint') or info.get('recipe')}: {info['parts']}"
             + (f" (fitted on {info['fitted_on']})" if info.get("fitted_on") else "")]
    m = info.get("memory")
    if m is not None:
        lines += [f"memory of normal motion: frames at {m['frame_size'][1]}x{m['frame_size'][0]}, flow at "
                  f"{m['height']} px, {m['cell']} px cells, a {m['grid'][0]} x {m['grid'][1]} grid",
                  f"  {m['normal_frames']:,} normal frames, {m['cells']:,} cells of {m['features']} features "
                  f"({m['stored_bytes'] / 2**20:.1f} MB stored); a frame's cells are searched against "
                  f"{m['searched_vectors']:,} vectors ({m['searched_bytes'] / 2**20:.1f} MB)"]
        if "looks" in m:
            lines.append(f"  the looks of the cells that move: {m['looks']:,} normal looks")
        if "objects" in m:
            lines.append(f"  normal objects: {m['objects']:,}")
    cost = info.get("cost")
    if cost is not None:
        lines.append(f"cost a frame on {describe(cost['hardware'])} ({cost['frames_timed']} frames of the synthetic "
                     "camera):")
        lines += [f"  {stage:<10}{ms:7.2f} ms" for stage, ms in cost["stages_ms"].items()]
        lines.append(f"  whole frame {cost['ms_per_frame']:.1f} ms ({cost['fps']:.0f} frames/s); "
                     "`svdgan benchmark` times it longer and with more streams")
    if info.get("generator") is not None:
        lines += ["the generator (the SVD-GAN's):", format_info(info["generator"])]
    return "\n".join(lines)

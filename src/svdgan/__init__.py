"""svdgan: real-time, unsupervised video anomaly detection (the memory of normal motion; the SVD-GAN as a recipe).

Public API (the command line `svdgan` calls the same code):
    load        load a model file (default: the shipped UCSD Ped2 model)
    Model       a loaded model: .score(frames) for a clip, .stream(source) for a live source
    Detector    what every path scores through: a model file scoring the frames of many sources
    ScoredFrame   one scored frame: score, why and where, the alert state, the image
    EventTracker  a source's scores turned into events (start, end, peak, reason)
    evaluate    score every test frame of a dataset; AUC, EER and the per-video figures
    train       fit a recipe (default: the detector that ships) on normal videos; returns the model file
    synthesize  write the synthetic surveillance dataset with its ground truth
    SynthConfig   the synthetic scene's options (size, videos, frames, seed)
    Config      the configuration: model, loss, train and score sections
    load_config   the defaults, a YAML file and key=value overrides, validated
    UserError   raised for bad input (the command line prints it as one line, exit status 2)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# name -> (module, attribute): imported on first use, so `svdgan --help` does not load torch
_PUBLIC = {
    "load": ("api", "load"), "Model": ("api", "Model"), "ScoredFrame": ("scoring.detector", "ScoredFrame"),
    "Detector": ("scoring.detector", "Detector"), "EventTracker": ("live.events", "EventTracker"),
    "evaluate": ("api", "evaluate"), "train": ("scoring.fit", "train"),
    "synthesize": ("data.synth", "write_synthetic"), "SynthConfig": ("data.synth", "SynthConfig"),
    "Config": ("config", "Config"), "load_config": ("config", "load_config"), "UserError": ("errors", "UserError"),
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'svdgan' has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    value = getattr(import_module(f".{module}", __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])

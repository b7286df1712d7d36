"""The source a SOURCE argument names: a camera index, a URL, the synthetic camera, a video file or a
frame folder."""

from __future__ import annotations

from pathlib import Path

from svdgan.errors import UserError
from svdgan.sources.synthetic import SynthSource
from svdgan.sources.video import CaptureSource, Source, open_file, opener_for


def open_source(spec: str) -> Source:
    """A SOURCE argument of `svdgan detect` and a camera's source in `svdgan serve`."""
    if spec.isdigit():
        return CaptureSource(f"camera {spec}", opener_for(int(spec)), live=True)
    if spec.startswith("synthetic:"):
        seed = spec.split(":", 1)[1]
        if not seed.isdigit():
            raise UserError(f"synthetic source needs an integer seed: {spec}")
        return SynthSource(spec, int(seed))
    if "://" in spec:
        return CaptureSource(spec, opener_for(spec), live=True)
    path = Path(spec)
    if not path.exists():
        raise UserError(f"source not found: {spec} (a video file, frame folder, camera index or URL)")
    return open_file(path)

"""The processor's denormal mode, set only around svdgan's own torch work.

Denormals (floats below about 1e-38) are slow on CPUs, so the generator runs and trains with them
flushed to zero. The mode is the processor's (per thread), not torch's: left on, it reaches any
other code in the process (scipy's k-d tree building then recurses without end on points with
zeros), so it is set around each call that wants it and put back after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

_DENORMAL = np.float32(1e-40)


def denormals_flushed() -> bool:
    """Whether this thread flushes denormals now: a denormal times one reads as zero (a numpy scalar,
    not a tensor: k-d tree searches ask this once per query, in the per-frame loop)."""
    return bool(_DENORMAL * np.float32(1.0) == 0.0)


@contextmanager
def _denormal_mode(flush: bool) -> Iterator[None]:
    before = denormals_flushed()
    if before != flush:
        torch.set_flush_denormal(flush)
    try:
        yield
    finally:
        if before != flush:
            torch.set_flush_denormal(before)


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Denormals flushed to zero inside (a context or a decorator), the mode as it was after."""
    with _denormal_mode(True):
        yield


@contextmanager
def denormals_kept() -> Iterator[None]:
    """Denormals kept inside (a context or a decorator), the mode as it was after."""
    with _denormal_mode(False):
        yield

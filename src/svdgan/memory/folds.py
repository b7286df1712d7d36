"""Leave-one-out on normal footage: the parts each scored against a memory of the rest, so that
normal statistics describe footage the memory has not seen."""

from __future__ import annotations

import numpy as np


def folds(lengths: list[int]) -> list[tuple[int, slice]]:
    """Parts of the normal footage, each scored against a memory of the rest: its videos, or the
    quarters of its one video."""
    if len(lengths) >= 2:
        return [(i, slice(0, n)) for i, n in enumerate(lengths)]
    bounds = np.linspace(0, lengths[0], 5).astype(int)
    return [(0, slice(int(a), int(b))) for a, b in zip(bounds[:-1], bounds[1:])]

"""Exact nearest-neighbour search over normal points: scipy's k-d tree, safe to use beside torch.

StreamScorer and training tell torch to flush denormals to zero (they are slow on CPUs). That mode
is the processor's, not torch's, and scipy's tree building then recurses without end on points with
zeros in them (the split just above 0 is a denormal, read as 0): a segmentation fault. Every tree
here is built and queried with denormals kept, and the mode put back after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from scipy.spatial import cKDTree


def denormals_flushed() -> bool:
    return torch.tensor([1e-40]).mul(1.0).item() == 0.0


@contextmanager
def denormals_kept() -> Iterator[None]:
    """Denormals kept inside, the mode as it was after."""
    flushed = denormals_flushed()
    if flushed:
        torch.set_flush_denormal(False)
    try:
        yield
    finally:
        if flushed:
            torch.set_flush_denormal(True)


class NearestTree:
    """Normal points (K, D) and each query's distance to the nearest of them."""

    def __init__(self, points: np.ndarray, unique: bool = False):
        points = np.asarray(points, np.float64)
        if unique:  # repeated points (still places) kept once: the nearest is the same
            points = np.unique(points, axis=0)
        with denormals_kept():
            self._tree = cKDTree(points)

    @property
    def points(self) -> np.ndarray:
        return self._tree.data

    def query(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(..., D) queries -> distances and indices of their k nearest points."""
        with denormals_kept():
            return self._tree.query(np.asarray(queries, np.float64), k=k)

    def distances(self, queries: np.ndarray) -> np.ndarray:
        """(..., D) queries -> (...) distance to the nearest point."""
        return self.query(queries, k=1)[0]

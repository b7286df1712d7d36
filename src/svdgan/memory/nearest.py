"""Exact nearest-neighbour search over normal points: scipy's k-d tree, safe to use beside torch.

While denormals are flushed to zero (svdgan does so around its generator, utils/fpmode.py; other
code in the process may too), scipy's tree building recurses without end on points with zeros in
them (the split just above 0 is a denormal, read as 0): a segmentation fault. Every tree here is
built and queried with denormals kept.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from svdgan.utils.fpmode import denormals_kept


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

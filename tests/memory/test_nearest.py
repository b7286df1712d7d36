"""Nearest normal points (memory/nearest.py): exact, and safe while torch flushes denormals."""

import subprocess
import sys

import numpy as np

from svdgan.memory.nearest import NearestTree


def test_the_nearest_point_is_found_and_repeated_points_are_kept_once():
    points = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    tree = NearestTree(points, unique=True)
    assert len(tree.points) == 2
    np.testing.assert_allclose(tree.distances(np.array([[3.0, 0.0], [3.0, 4.0]])), [3.0, 0.0])
    distances, index = tree.query(np.array([0.0, 1.0]), k=2)
    np.testing.assert_allclose(distances, [1.0, np.sqrt(18.0)])


# Points with zeros in them: while denormals are flushed, scipy's tree building recursed without end on
# such points (a segmentation fault, the look memory's in CI), so the check runs in a process of its own.
BUILD_WHILE_FLUSHED = """
import numpy as np, torch
from svdgan.memory.look import LookMemory, N_LOOK
from svdgan.memory.nearest import NearestTree
from svdgan.utils.fpmode import denormals_flushed
rng = np.random.default_rng(0)
points = rng.random((42, N_LOOK)) * (rng.random((42, N_LOOK)) > 0.5)
torch.set_flush_denormal(True)
NearestTree(points, unique=True).distances(points[:3])
looks, moving = torch.from_numpy(points.reshape(42, N_LOOK, 1, 1)).float(), torch.ones(42, 1, 1)
LookMemory.fit(looks, moving).distances(looks, moving)
assert denormals_flushed()
print("built")
"""


def test_trees_of_points_with_zeros_are_built_while_torch_flushes_denormals():
    done = subprocess.run([sys.executable, "-c", BUILD_WHILE_FLUSHED], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "built", done.stderr[-2000:]

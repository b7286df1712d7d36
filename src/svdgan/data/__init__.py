"""Datasets and frames: frames and videos, layouts, ground truth, pixel masks, training clips, the synthetic scene."""

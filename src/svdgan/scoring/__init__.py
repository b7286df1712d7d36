"""Scoring: per-frame errors of whole videos and of streams, normalisation, calibration, fusion with the memory."""

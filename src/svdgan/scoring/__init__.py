"""Scoring: the Detector (the one per-frame path), fitting a model file, the generator's scores, fusion."""

"""Evaluation: metrics, the report of `svdgan evaluate`, other protocols, baselines, plots, speed."""

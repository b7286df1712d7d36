"""Evaluation: metrics, the report of `svdgan evaluate`, plots, `svdgan benchmark` and `svdgan info`."""

"""The maintainers' benchmarks, run from the repository root as `python -m benchmarks.NAME`.
They use svdgan's library only; nothing in it imports them."""

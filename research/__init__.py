"""Research diagnostics behind the UCSD Ped2 findings (docs/ped2.md): not needed to use svdgan.

    python -m research.copy_sweep --data ../shared/data/ucsd_ped2   # the no-model detector's score options
    python -m research.fit_clips --data ../shared/data/ucsd_ped2    # can the generator fit a few clips?
    python -m research.feature_memory --data ../shared/data/ucsd_ped2  # a memory of normal features
"""

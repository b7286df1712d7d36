"""Training: the adversarial loop on normal clips, resumable, on one process or several."""

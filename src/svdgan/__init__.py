"""svdgan: SVD-GAN for real-time unsupervised video anomaly detection."""

__version__ = "0.1.0"

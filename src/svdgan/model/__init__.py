"""The pure model: layers, generator, discriminator, losses, their size and FLOPs, and the checkpoint file."""

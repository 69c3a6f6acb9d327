"""Sampling: flow-matching schedule, triple guidance, windows, latent stitching."""

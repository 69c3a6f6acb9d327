"""Sampling: flow-matching schedule, triple guidance, windows and their audio windows, latent
stitching."""

"""Speedups applied beside the model from per-take settings: regional ``torch.compile`` and
CUDA graphs, FP8 DiT linears, SageAttention, the step-cache indicator, presets and FLOP counts.

Model files stay plain math; everything here wraps or configures them from the outside.
"""

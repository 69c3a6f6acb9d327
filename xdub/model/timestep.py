"""Timestep conditioning: the sinusoid, and rows shared by contiguous token segments."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def sinusoidal_embedding(timesteps: Tensor, dim: int) -> Tensor:
    """``[cos | sin]`` of ``t * w_i``, ``w_i = 10000^(-i / (dim/2))``.

    timesteps: (N,) in diffusion steps (0..1000), any float dtype.
    Returns (N, dim) in ``timesteps.dtype``. Computed in float64 as the reference does, except on
    devices without float64 (MPS), where float32 is used.
    """
    compute_dtype = torch.float32 if timesteps.device.type == "mps" else torch.float64
    half = dim // 2
    exponent = torch.arange(half, dtype=compute_dtype, device=timesteps.device).div(half)
    angles = torch.outer(timesteps.to(compute_dtype), torch.pow(10000, -exponent))
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1).to(timesteps.dtype)


@dataclass(frozen=True)
class SegmentRows:
    """Per-token conditioning stored once per run of tokens that share it.

    Tokens ``bounds[i]:bounds[i+1]`` of a (B, L, dim) sequence use ``rows[i]``, a tensor of
    shape (1 or B, k, dim) that broadcasts over those tokens (k = 1 for ``t``, 6 for ``t_mod``).
    This replaces the reference's (B, L, k, dim) per-token tables.
    """

    bounds: tuple[int, ...]
    rows: tuple[Tensor, ...]

    def __post_init__(self) -> None:
        if len(self.bounds) != len(self.rows) + 1 or list(self.bounds) != sorted(self.bounds):
            raise ValueError(f"bounds {self.bounds} do not delimit {len(self.rows)} segments")

    def segments(self) -> list[tuple[slice, Tensor]]:
        """Non-empty ``(token slice, row)`` pairs in token order."""
        return [
            (slice(start, end), row)
            for start, end, row in zip(self.bounds[:-1], self.bounds[1:], self.rows, strict=True)
            if end > start
        ]

    def tail(self, start: int) -> SegmentRows:
        """The same rows for tokens ``start:`` only (e.g. the target half), re-based to 0."""
        bounds = [max(b - start, 0) for b in self.bounds]
        return SegmentRows(tuple(bounds), self.rows)

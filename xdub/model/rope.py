"""3-D rotary position embedding with interleaved channel pairs, and the X-Dub token grid.

Per head, the ``head_dim / 2`` complex slots are ordered ``[temporal | height | width]`` with
``head_dim - 2 * (head_dim // 3)``, ``head_dim // 3`` and ``head_dim // 3`` channels. Channels
``(2i, 2i+1)`` form one complex number (not rotate-half).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

ROPE_THETA = 10000.0
MAX_POSITIONS = 1024


def _angles(num_channels: int, num_positions: int) -> Tensor:
    """(num_positions, num_channels / 2) float64 angles ``p * theta^(-2i / num_channels)``."""
    inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, num_channels, 2).double() / num_channels))
    return torch.outer(torch.arange(num_positions, dtype=torch.float64), inv_freq)


def grid_angles(head_dim: int, grid: tuple[int, int, int]) -> Tensor:
    """RoPE angles of the joint sequence ``[ref | target]`` on a latent token grid.

    grid: (f, h, w) tokens per half. Both halves use temporal positions 0..f-1; target tokens
    use spatial positions 0..h-1 / 0..w-1, reference tokens h..2h-1 / w..2w-1.
    Returns (2*f*h*w, head_dim/2) float64 radians, reference tokens first.
    """
    f, h, w = grid
    spatial_dim = head_dim // 3
    temporal = _angles(head_dim - 2 * spatial_dim, f)
    height = _angles(spatial_dim, 2 * h)
    width = _angles(spatial_dim, 2 * w)

    def half(h0: int, w0: int) -> Tensor:
        parts = [
            temporal.view(f, 1, 1, -1).expand(f, h, w, -1),
            height[h0 : h0 + h].view(1, h, 1, -1).expand(f, h, w, -1),
            width[w0 : w0 + w].view(1, 1, w, -1).expand(f, h, w, -1),
        ]
        return torch.cat(parts, dim=-1).reshape(f * h * w, -1)

    return torch.cat([half(h, w), half(0, 0)], dim=0)


def apply_rope(x: Tensor, table: Tensor) -> Tensor:
    """Rotate interleaved pairs of ``x`` (B, L, heads, head_dim); returns ``x.dtype``.

    table: from :class:`RotaryEmbedding3D` — complex128 (L, 1, head_dim/2) for the strict
    reference multiply, or real (L, 1, head_dim/2, 2) ``[cos, sin]`` for the fast path, which
    runs in the table's dtype (float32 for bf16/fp32 inputs).
    """
    b, length, heads, head_dim = x.shape
    if table.is_complex():
        pairs = torch.view_as_complex(x.to(torch.float64).reshape(b, length, heads, -1, 2))
        return torch.view_as_real(pairs * table).flatten(3).to(x.dtype)
    pairs = x.to(table.dtype).reshape(b, length, heads, -1, 2)
    real, imag = pairs.unbind(-1)
    cos, sin = table.unbind(-1)
    rotated = torch.stack([real * cos - imag * sin, real * sin + imag * cos], dim=-1)
    return rotated.flatten(3).to(x.dtype)


class RotaryEmbedding3D(nn.Module):
    """RoPE tables for the joint ref/target grid, cached per (grid, device, dtype, strictness).

    Holds no parameters or buffers (the reference's ``freqs`` is not in the checkpoint).
    """

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.head_dim = head_dim
        self._cache: dict[tuple[tuple[int, int, int], torch.device, torch.dtype, bool], Tensor] = {}

    def table(
        self,
        grid: tuple[int, int, int],
        *,
        device: torch.device,
        dtype: torch.dtype,
        strict_parity: bool,
    ) -> Tensor:
        """The table :func:`apply_rope` takes for inputs of ``dtype`` on ``device``.

        ``strict_parity`` selects the reference complex128 multiply; devices without float64
        (MPS) always get the real float32 formulation.
        """
        is_complex = strict_parity and device.type != "mps"
        real_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        key = (grid, device, real_dtype, is_complex)
        cached = self._cache.get(key)
        if cached is None:
            if max(grid[0], 2 * grid[1], 2 * grid[2]) > MAX_POSITIONS:
                raise ValueError(f"token grid {grid} exceeds {MAX_POSITIONS} RoPE positions")
            angles = grid_angles(self.head_dim, grid).unsqueeze(1)
            if is_complex:
                cached = torch.polar(torch.ones_like(angles), angles)
            else:
                cached = torch.stack([angles.cos(), angles.sin()], dim=-1).to(real_dtype)
            cached = cached.to(device)
            self._cache[key] = cached
        return cached

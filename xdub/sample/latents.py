"""Latent-space loop pieces: border-ring replacement, re-noised reference, motion, stitching.

Latents are (B, 48, F, h, w) with h, w = H/16, W/16. Every function returns a new tensor and
computes in the dtype of its inputs (bf16 in production), like the reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from xdub.sample.schedule import normalized_time

MAX_BORDER_SIGMA = 0.95


def replace_latent_borders(
    latents: Tensor, border_latents: Tensor, start_frame: int, border_width: int
) -> Tensor:
    """Copy the outer ``border_width`` rows and columns of frames ``start_frame:`` from
    ``border_latents`` into a copy of ``latents``; both (B, C, F, h, w).

    Nothing changes (the input is returned) when ``border_width <= 0`` or
    ``start_frame >= F``.
    """
    if latents.shape != border_latents.shape:
        raise ValueError(
            f"latents {tuple(latents.shape)} and border_latents "
            f"{tuple(border_latents.shape)} must have the same shape"
        )
    if border_width <= 0 or start_frame >= latents.shape[2]:
        return latents
    out = latents.clone()
    frames = slice(start_frame, None)
    top, bottom = slice(None, border_width), slice(-border_width, None)
    for rows in (top, bottom):
        out[:, :, frames, rows, :] = border_latents[:, :, frames, rows, :]
        out[:, :, frames, :, rows] = border_latents[:, :, frames, :, rows]
    return out


def border_sigma(model_t: Tensor) -> Tensor:
    """Sigma of the re-noised reference ring: ``clamp(t/1000, 0, 0.95)``; (1,), timestep dtype."""
    return torch.clamp(normalized_time(model_t), min=0.0, max=MAX_BORDER_SIGMA)


def noised_reference(ref_latents: Tensor, noise: Tensor, sigma: Tensor | float) -> Tensor:
    """``(1 - s)*ref + s*noise`` (the reference's get_xt_from_x0) in ``ref_latents``' dtype.

    ``sigma`` is a float or a tensor of one value per batch item, e.g. ``border_sigma(t)``.
    """
    s = torch.as_tensor(sigma).to(dtype=ref_latents.dtype, device=ref_latents.device)
    s = s.view(-1, *([1] * (ref_latents.ndim - 1)))
    return (1.0 - s) * ref_latents + s * noise


def impose_motion_latents(latents: Tensor, motion_latents: Tensor) -> Tensor:
    """Copy of ``latents`` (B, C, F, h, w) whose first m frames are ``motion_latents``."""
    out = latents.clone()
    out[:, :, : motion_latents.shape[2]] = motion_latents
    return out


def stitch_transition(
    prev: Tensor, cur: Tensor, num_motion_latents: int = 2
) -> tuple[Tensor, Tensor]:
    """Join clip ``cur`` to the previous segment ``prev``, both (B, C, F, h, w).

    ``prev``'s last latent covers the same frames as ``cur[m-1]`` (m motion latents); it becomes
    ``0.5*(prev[-1] + cur[m-1])`` in the input dtype. Returns (new prev, ``cur[:, :, m:]``).
    """
    boundary = 0.5 * (prev[:, :, -1:] + cur[:, :, num_motion_latents - 1 : num_motion_latents])
    new_prev = prev.clone()
    new_prev[:, :, -1:] = boundary
    return new_prev, cur[:, :, num_motion_latents:]


def stitch_clips(clip_latents: Sequence[Tensor], num_motion_latents: int = 2) -> Tensor:
    """Concatenate per-clip latents (each (B, C, 20, h, w)) into (B, C, 20 + 18(n-1), h, w)."""
    if not clip_latents:
        raise ValueError("stitch_clips needs at least one clip")
    segments = [clip_latents[0]]
    for cur in clip_latents[1:]:
        segments[-1], tail = stitch_transition(segments[-1], cur, num_motion_latents)
        segments.append(tail)
    return torch.cat(segments, dim=2)


def stitch_piece(
    clip_latents: Sequence[Tensor], clip: int, *, is_last: bool, num_motion_latents: int = 2
) -> Tensor:
    """The part of ``stitch_clips(clip_latents)`` that is final once clip ``clip`` is known.

    Clip 0 gives its latents but the last; clip k > 0 the boundary latent shared with clip
    k - 1, then its own new latents but the last (which the next clip changes); the last clip
    also gives its last. The pieces of clips 0..n-1, joined, equal ``stitch_clips``.
    """
    cur = clip_latents[clip]
    if clip == 0:
        piece = cur
    else:
        joined, tail = stitch_transition(clip_latents[clip - 1], cur, num_motion_latents)
        piece = torch.cat([joined[:, :, -1:], tail], dim=2)
    return piece if is_last else piece[:, :, :-1]

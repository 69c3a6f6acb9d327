"""Triple classifier-free guidance: the batch of three branches, the dynamic scales, the mix.

Branches, in batch order: 0 "nega" (no ref, no audio), 1 "posi_r" (ref only), 2 "posi_ra"
(ref and audio). The null conditions are literal zeros. Every op runs in the dtype of its
tensors, so in bf16 each intermediate rounds exactly as in the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from xdub.sample.schedule import normalized_time

NUM_BRANCHES = 3
BRANCHES = ("nega", "posi_r", "posi_ra")


@dataclass(frozen=True)
class GuidanceReuse:
    """Guidance reuse: compute ``branch`` only every ``period``-th DiT pass, reusing its last
    prediction in between (the other two branches run as a batch of 2). ``period`` 1 is off.

    ``posi_r`` (the audio-dropped branch) enters the mix as ``(s_r - s_a) * posi_r``, so a stale
    one is amplified by the audio scale; ``nega`` enters as ``(1 - s_r) * nega``.
    """

    period: int = 1
    branch: str = "nega"

    def __post_init__(self) -> None:
        if self.period < 1:
            raise ValueError(f"guidance reuse period {self.period} is below 1")
        if self.branch not in BRANCHES[:2]:
            raise ValueError(f"guidance reuse branch {self.branch!r} is not nega or posi_r")

    @property
    def is_on(self) -> bool:
        return self.period > 1

    @property
    def index(self) -> int:
        """The reused branch's row in the CFG batch."""
        return BRANCHES.index(self.branch)


def cfg_batch(ref_latents: Tensor, audio_feats: Tensor) -> tuple[Tensor, Tensor]:
    """Batch the conditions as [nega, posi_r, posi_ra].

    ``ref_latents`` (1, 48, F, h, w) -> (3, ...) = [zeros, ref, ref];
    ``audio_feats`` (1, F, 8, 2048) -> (3, ...) = [zeros, zeros, audio] (zeros before AudioProj).
    """
    ref_zero = torch.zeros_like(ref_latents)
    audio_zero = torch.zeros_like(audio_feats)
    return (
        torch.cat([ref_zero, ref_latents, ref_latents], dim=0),
        torch.cat([audio_zero, audio_zero, audio_feats], dim=0),
    )


def _cosine_blend(t: Tensor, t_start: float, t_end: float) -> Tensor:
    """0 at ``t_start`` rising to 1 at ``t_end`` along half a cosine; dtype of ``t``."""
    normalized = (t - t_start) / (t_end - t_start)
    return (1 - torch.cos(normalized * math.pi)) / 2


def ref_guidance_scale(
    t: Tensor,
    scale: float,
    *,
    trans_p1: float = 0.8,
    trans_p2: float = 0.4,
    trans_width: float = 0.1,
) -> Tensor:
    """Piecewise reference scale: S above 0.85, 0.6S on [0.45, 0.75), 0.3S below 0.35.

    Cosine blends join the plateaus over each ``trans_width`` band centred on ``trans_p1`` and
    ``trans_p2``. ``t`` in [0, 1], any shape; result has the shape and dtype of ``t``.
    """
    trans1_start = trans_p1 + trans_width / 2
    trans1_end = trans_p1 - trans_width / 2
    trans2_start = trans_p2 + trans_width / 2
    trans2_end = trans_p2 - trans_width / 2
    high, mid, low = scale * 1.0, scale * 0.6, scale * 0.3

    result = torch.zeros_like(t)
    result = torch.where(t >= trans1_start, high, result)
    in_band1 = (t >= trans1_end) & (t < trans1_start)
    blend1 = _cosine_blend(t, trans1_start, trans1_end)
    result = torch.where(in_band1, high * (1 - blend1) + mid * blend1, result)
    result = torch.where((t >= trans2_start) & (t < trans1_end), mid, result)
    in_band2 = (t >= trans2_end) & (t < trans2_start)
    blend2 = _cosine_blend(t, trans2_start, trans2_end)
    result = torch.where(in_band2, mid * (1 - blend2) + low * blend2, result)
    return torch.where(t < trans2_end, low, result)


def audio_guidance_scale(t: Tensor, scale: float) -> Tensor:
    """``scale * t**1.5``; shape and dtype of ``t``."""
    return scale * (t**1.5)


@dataclass(frozen=True)
class GuidanceScales:
    """Base scales of the triple CFG (CLI defaults) and whether they follow the dynamic schedule."""

    ref_cfg_scale: float = 2.5
    audio_cfg_scale: float = 10.0
    is_dynamic: bool = True

    def at(self, model_t: Tensor) -> tuple[Tensor | float, Tensor | float]:
        """(s_r, s_a) for the (1,) model timestep (bf16 in production, float32 in the fp32 path).

        Dynamic scales are tensors in the timestep's dtype; static ones are the plain floats.
        """
        if not self.is_dynamic:
            return self.ref_cfg_scale, self.audio_cfg_scale
        t = normalized_time(model_t)
        return ref_guidance_scale(t, self.ref_cfg_scale), audio_guidance_scale(
            t, self.audio_cfg_scale
        )


def combine_guidance(
    v_nega: Tensor,
    v_posi_r: Tensor,
    v_posi_ra: Tensor,
    ref_scale: Tensor | float,
    audio_scale: Tensor | float,
) -> Tensor:
    """``v_nega + s_r*(v_posi_r - v_nega) + s_a*(v_posi_ra - v_posi_r)``, left to right.

    In bf16 every op rounds: ``bf16(bf16(n + bf16(s_r*bf16(r-n))) + bf16(s_a*bf16(ra-r)))``.
    Velocities (B, 48, F, h, w); scales broadcastable, e.g. (1,).
    """
    return v_nega + ref_scale * (v_posi_r - v_nega) + audio_scale * (v_posi_ra - v_posi_r)


def guided_velocity(
    noise_pred: Tensor, ref_scale: Tensor | float, audio_scale: Tensor | float
) -> Tensor:
    """Combine a (3, 48, F, h, w) CFG-batched prediction into (1, 48, F, h, w)."""
    if noise_pred.shape[0] != NUM_BRANCHES:
        raise ValueError(f"noise_pred must have batch {NUM_BRANCHES}, got {noise_pred.shape[0]}")
    v_nega, v_posi_r, v_posi_ra = noise_pred.chunk(NUM_BRANCHES, dim=0)
    return combine_guidance(v_nega, v_posi_r, v_posi_ra, ref_scale, audio_scale)

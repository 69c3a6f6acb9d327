"""Denoising one window: border ring, guided velocity, Euler step, motion re-imposition.

This is the inner loop of the reference ``LipSyncPipeline.__call__``. The sampler never imports
the model: the velocity comes from a callable, normally a :class:`GuidedVelocity` built around
the DiT, so the loop can be tested against stored model outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from xdub.sample.guidance import (
    NUM_BRANCHES,
    GuidanceReuse,
    GuidanceScales,
    cfg_batch,
    guided_velocity,
)
from xdub.sample.latents import (
    border_sigma,
    impose_motion_latents,
    noised_reference,
    replace_latent_borders,
)
from xdub.sample.schedule import (
    DEFAULT_SHIFT,
    euler_step,
    flow_sigmas,
    model_timestep,
    sigma_interval,
    timesteps,
)

VelocityFn = Callable[[Tensor, Tensor], Tensor]
"""(latents (1, 48, F, h, w), model timestep (1,)) -> guided velocity (1, 48, F, h, w)."""

StepCallback = Callable[[int, int], None]
"""Called as ``(steps_done, num_steps)`` after every step; raising (e.g. JobCancelled) stops."""


@dataclass(frozen=True)
class SamplerSettings:
    """Everything the window loop needs besides tensors; defaults are the reference CLI's."""

    num_steps: int = 30
    shift: float = DEFAULT_SHIFT
    border_width: int = 1
    guidance: GuidanceScales = field(default_factory=GuidanceScales)
    guidance_reuse: GuidanceReuse = field(default_factory=GuidanceReuse)
    step_cache_threshold: float = 0.0
    """Step caching (``xdub.sample.step_cache``); 0 computes every step."""


class VelocityModel(Protocol):
    """The DiT's call signature as the sampler uses it (see ``xdub.model.dit.XDubDiT``)."""

    def __call__(
        self,
        latents: Tensor,
        timestep: Tensor,
        ref_latents: Tensor,
        context: object,
        audio_feats: Tensor,
        *,
        num_motion_latents: int = 0,
    ) -> Tensor: ...


class GuidedVelocity:
    """Triple-guided velocity of one window: one model call on the CFG batch of 3 per step.

    ref_latents: (1, 48, F, h, w); audio_feats: (1, F, 8, 2048); context: the constant text
    context (or its prepared embedding), batch 1. The CFG batch ``[nega, posi_r, posi_ra]`` is
    built once per window. With ``reuse`` on, one branch is computed every ``reuse.period``-th
    call only (calls count from 0 per window); ``passes`` counts the DiT branch passes run.
    """

    def __init__(
        self,
        model: VelocityModel,
        ref_latents: Tensor,
        audio_feats: Tensor,
        context: object,
        guidance: GuidanceScales,
        *,
        num_motion_latents: int,
        reuse: GuidanceReuse | None = None,
    ) -> None:
        self._model = model
        self._ref3, self._audio3 = cfg_batch(ref_latents, audio_feats)
        self._context = context
        self._guidance = guidance
        self._num_motion_latents = num_motion_latents
        self._reuse = reuse or GuidanceReuse()
        self._calls = 0
        self._reused: Tensor | None = None
        self.passes = 0

    def branches(self, latents: Tensor, model_t: Tensor) -> Tensor:
        """Raw predictions (3, 48, F, h, w) of the branches [nega, posi_r, posi_ra]."""
        call, self._calls = self._calls, self._calls + 1
        reuse = self._reuse
        if not reuse.is_on or self._reused is None or call % reuse.period == 0:
            out = self._predict(latents, model_t, slice(None))
            if reuse.is_on:
                self._reused = out[reuse.index : reuse.index + 1]
            return out
        kept = [i for i in range(NUM_BRANCHES) if i != reuse.index]
        fresh = self._predict(latents, model_t, kept)
        parts = list(fresh.split(1))
        parts.insert(reuse.index, self._reused)
        return torch.cat(parts)

    def _predict(self, latents: Tensor, model_t: Tensor, rows: slice | list[int]) -> Tensor:
        ref, audio = self._ref3[rows], self._audio3[rows]
        self.passes += ref.shape[0]
        return self._model(
            latents,
            model_t,
            ref,
            self._context,
            audio,
            num_motion_latents=self._num_motion_latents,
        )

    def __call__(self, latents: Tensor, model_t: Tensor) -> Tensor:
        ref_scale, audio_scale = self._guidance.at(model_t)
        return guided_velocity(self.branches(latents, model_t), ref_scale, audio_scale)


def denoise_window(
    velocity: VelocityFn,
    noise: Tensor,
    ref_latents: Tensor,
    motion_latents: Tensor | None,
    settings: SamplerSettings,
    *,
    on_step: StepCallback | None = None,
) -> Tensor:
    """Denoise one window from ``noise`` and return its final latents.

    noise, ref_latents: (1, 48, F, h, w) in the sampling dtype (bf16 in production); the same
    noise re-noises the reference for the border ring. motion_latents: (1, 48, m, h, w) clean
    latents of the previous window's last frames, or None for the first window. The model sees
    the timestep cast to the sampling dtype; the Euler step uses the float32 sigmas.
    """
    sigmas = flow_sigmas(settings.num_steps, settings.shift)
    table = timesteps(sigmas)
    start_frame = 0 if motion_latents is None else motion_latents.shape[2]
    latents = noise if motion_latents is None else impose_motion_latents(noise, motion_latents)
    for step in range(settings.num_steps):
        model_t = model_timestep(table[step], latents.dtype).to(latents.device)
        ring = noised_reference(ref_latents, noise, border_sigma(model_t))
        latents = replace_latent_borders(latents, ring, start_frame, settings.border_width)
        latents = euler_step(latents, velocity(latents, model_t), *sigma_interval(sigmas, step))
        if motion_latents is not None:
            latents = impose_motion_latents(latents, motion_latents)
        if on_step is not None:
            on_step(step + 1, settings.num_steps)
    latents = replace_latent_borders(latents, ref_latents, start_frame, settings.border_width)
    if motion_latents is not None:
        latents = impose_motion_latents(latents, motion_latents)
    return latents


def window_noise(shape: tuple[int, ...], seed: int, dtype: torch.dtype) -> Tensor:
    """The reference's initial noise: float32 ``randn`` from a CPU generator, then cast."""
    generator = torch.Generator("cpu").manual_seed(seed)
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(dtype)

"""What speed choices one take runs with: quality and preset resolved into concrete settings.

``exact`` computes what the reference computes (regional compile and fused kernels change only
float association). ``fast`` adds FP8 block linears (where the GPU has FP8), SageAttention
(where installed) and step caching. The ``draft`` preset is ``fast`` plus fewer steps and a
smaller internal face crop; :mod:`xdub.speed.flops` proves it costs at least 5x fewer DiT FLOPs
per video-second than ``final``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import torch

from xdub.job.options import DubOptions
from xdub.model.attention import AttentionBackend, available_backends
from xdub.protocol.records import Preset, Quality, VramPolicy
from xdub.sample.guidance import GuidanceReuse
from xdub.sample.step_cache import SamplingStats
from xdub.speed.fp8 import fp8_problem, require_fp8

log = logging.getLogger(__name__)

FAST_STEP_CACHE_THRESHOLD = 0.2
"""Fast mode's default accumulated relative change under which a DiT pass is skipped. Chosen on
tiny random weights (tests/speed/test_speed_bounds.py); recalibrate on real weights."""
DRAFT_NUM_STEPS = 10
DRAFT_CROP_SCALE = 0.75
"""512 px crops become 384 px: 144 instead of 256 tokens per latent frame."""
CROP_MULTIPLE_PX = 32
"""Crop sides stay multiples of the VAE stride (16) times the DiT patch (2)."""


@dataclass(frozen=True)
class SpeedPlan:
    """The resolved speed settings of one take (they go into its metadata as they are)."""

    quality: Quality
    preset: Preset
    num_steps: int
    crop_size: int
    fp8: bool
    attention: AttentionBackend
    step_cache_threshold: float
    guidance_reuse_period: int
    guidance_reuse_branch: str

    @property
    def is_draft(self) -> bool:
        return self.preset is Preset.DRAFT

    @property
    def guidance_reuse(self) -> GuidanceReuse:
        return GuidanceReuse(self.guidance_reuse_period, self.guidance_reuse_branch)

    def as_metadata(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(quality=self.quality.value, preset=self.preset.value, is_draft=self.is_draft)
        return data


def draft_crop_size(crop_size: int) -> int:
    """The draft preset's internal crop: 0.75x, down to a multiple of 32 px (at least 32)."""
    scaled = int(crop_size * DRAFT_CROP_SCALE) // CROP_MULTIPLE_PX * CROP_MULTIPLE_PX
    return max(CROP_MULTIPLE_PX, scaled)


def plan_speed(
    *,
    quality: Quality,
    preset: Preset,
    num_steps: int,
    crop_size: int,
    device: torch.device,
    fp8: bool | None = None,
    step_cache_threshold: float | None = None,
    guidance_reuse_period: int = 1,
    guidance_reuse_branch: str = "nega",
    vram_policy: VramPolicy = VramPolicy.RESIDENT,
    warnings: list[str] | None = None,
) -> SpeedPlan:
    """Resolve a take's speed options for ``device``.

    ``fp8``: None uses FP8 in fast mode where the device has it (a note goes to ``warnings``
    where not, or under a VRAM policy other than resident); True requires it (``ModelError``
    where impossible); False never.
    ``step_cache_threshold``: None is the mode's default (0 in exact mode).
    """
    quality, preset = Quality(quality), Preset(preset)
    if preset is Preset.DRAFT:
        quality, num_steps, crop_size = Quality.FAST, DRAFT_NUM_STEPS, draft_crop_size(crop_size)
    is_fast = quality is Quality.FAST
    if fp8 is True:
        require_fp8(device)
    problem = fp8_problem(device)
    if problem is None and VramPolicy(vram_policy) is not VramPolicy.RESIDENT:
        problem = f"FP8 weights need the VRAM policy resident, not {VramPolicy(vram_policy).value}"
    use_fp8 = bool(fp8) if fp8 is not None else is_fast and problem is None
    if fp8 is None and is_fast and not use_fp8 and warnings is not None:
        warnings.append(f"fast mode without FP8 weights: {problem}")
    attention: AttentionBackend = "auto"
    if is_fast and "sage" in available_backends() and device.type == "cuda":
        attention = "sage"
    if step_cache_threshold is None:
        step_cache_threshold = FAST_STEP_CACHE_THRESHOLD if is_fast else 0.0
    plan = SpeedPlan(
        quality=quality,
        preset=preset,
        num_steps=num_steps,
        crop_size=crop_size,
        fp8=use_fp8,
        attention=attention,
        step_cache_threshold=step_cache_threshold,
        guidance_reuse_period=guidance_reuse_period,
        guidance_reuse_branch=guidance_reuse_branch,
    )
    GuidanceReuse(guidance_reuse_period, guidance_reuse_branch)  # validates
    log.debug("speed plan %s", plan)
    return plan


def plan_for_options(
    options: DubOptions,
    crop_size: int,
    device: torch.device,
    vram_policy: VramPolicy,
    warnings: list[str],
) -> SpeedPlan:
    """:func:`plan_speed` for a take's :class:`~xdub.job.options.DubOptions`."""
    return plan_speed(
        quality=options.quality,
        preset=options.preset,
        num_steps=options.num_steps,
        crop_size=crop_size,
        device=device,
        fp8=options.fp8,
        step_cache_threshold=options.step_cache_threshold,
        guidance_reuse_period=options.guidance_reuse_period,
        guidance_reuse_branch=options.guidance_reuse_branch,
        vram_policy=vram_policy,
        warnings=warnings,
    )


def speed_metadata(
    plan: SpeedPlan, compile_state: dict[str, Any], stats: SamplingStats
) -> dict[str, Any]:
    """The take's ``speed`` metadata: the plan, the compile state and what the cache did."""
    return {
        **plan.as_metadata(),
        **compile_state,
        "computed_steps": stats.computed,
        "skipped_steps": stats.skipped,
        "skipped": [list(step) for step in stats.skipped_steps],
        "branch_passes": stats.branch_passes,
    }

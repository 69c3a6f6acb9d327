"""DiT FLOPs counted on the meta device (no memory), per pass, per step and per video-second.

``torch.utils.flop_counter.FlopCounterMode`` counts every matmul, convolution and attention of a
real forward of the full-size model on meta tensors. :func:`preset_cost` turns one pass into the
cost of a take per second of video for a :class:`~xdub.speed.plan.SpeedPlan`: each 77-frame
window adds 72 new frames (2.88 s), and a step runs 3 CFG branches (2 on the steps where
guidance reuse keeps one). Step caching is left out: what it skips depends on the content.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from xdub.media.fps import MODEL_FPS
from xdub.model.dit import TextContext, XDubDiT
from xdub.sample.guidance import NUM_BRANCHES
from xdub.sample.windows import WindowPlan
from xdub.speed.plan import SpeedPlan

TEXT_LEN = 512
"""umt5 context rows."""
AUDIO_TOKENS = 8
"""Audio tokens per latent frame."""
VAE_STRIDE_PX = 16


def count_forward(
    model: XDubDiT, batch: int, latent_shape: tuple[int, int, int], context: Tensor | TextContext
) -> FlopCounterMode:
    """Run one meta forward of ``batch`` CFG branches (B0 = 1) on (F, H, W) latents."""
    cfg = model.config
    f, h, w = latent_shape

    def empty(*shape: int) -> Tensor:
        return torch.empty(shape, device="meta", dtype=torch.bfloat16)

    latents = empty(1, cfg.in_dim, f, h, w)
    ref = empty(batch, cfg.in_dim, f, h, w)
    audio = empty(batch, f, AUDIO_TOKENS, cfg.audio.in_dim)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(latents, empty(1), ref, context, audio)
    return counter


def meta_text(model: XDubDiT) -> TextContext:
    """The prepared text context (K/V cached, as the pipeline runs) on the meta device."""
    raw = torch.empty(1, TEXT_LEN, model.config.text_dim, device="meta", dtype=torch.bfloat16)
    with torch.no_grad():
        return model.prepare_text(raw, cache_kv=True)


def branch_passes_per_window(num_steps: int, reuse_period: int) -> int:
    """CFG branch passes of one window: 3 per step, 2 where guidance reuse keeps a branch."""
    full = math.ceil(num_steps / reuse_period)
    return NUM_BRANCHES * full + (NUM_BRANCHES - 1) * (num_steps - full)


@dataclass(frozen=True)
class PresetCost:
    """DiT cost of one plan: one pass, one window, one second of video (FLOPs)."""

    pass_flops: int
    window_flops: int
    video_second_flops: float
    latent_size: int


def preset_cost(model: XDubDiT, plan: SpeedPlan, windows: WindowPlan | None = None) -> PresetCost:
    """The DiT FLOPs of ``plan`` counted on ``model`` (full-size, meta device)."""
    windows = windows or WindowPlan()
    latent_size = plan.crop_size // VAE_STRIDE_PX
    shape = (windows.clip_latent_frames, latent_size, latent_size)
    pass_flops = count_forward(model, 1, shape, meta_text(model)).get_total_flops()
    passes = branch_passes_per_window(plan.num_steps, plan.guidance_reuse_period)
    window_flops = passes * pass_flops
    window_s = windows.stride / float(MODEL_FPS)
    return PresetCost(pass_flops, window_flops, window_flops / window_s, latent_size)

"""Each lossy switch against the exact path: one 30-step window of the tiny DiT.

The bounds are relative L2 errors of the window's final latents, measured on these tiny random
weights (docs/speed.md lists them; measured values are in the comments). Random weights change
far more from step to step than trained ones, so real-weight errors must be measured again on a
GPU (benchmarks/gpu_suite.py).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from xdub.model.dit import TextContext, XDubDiT, build_dit
from xdub.sample.denoise import GuidedVelocity, SamplerSettings, denoise_window, window_noise
from xdub.sample.guidance import GuidanceReuse, GuidanceScales
from xdub.sample.step_cache import CachedVelocity, SamplingStats, StepCacheRule
from xdub.speed.indicator import ModulatedInput
from xdub.speed.plan import FAST_STEP_CACHE_THRESHOLD

NUM_STEPS = 30
STEP_CACHE_BOUND = 0.03
"""Fast mode's step cache (threshold 0.2, 5 of 30 steps skipped): measured 0.016."""
REUSE_NEGA_BOUND = 0.03
"""Guidance reuse of ``nega`` every 2nd pass: measured 0.013."""
REUSE_POSI_R_BOUND = 0.1
"""Guidance reuse of ``posi_r`` every 2nd pass: measured 0.060 (the audio scale amplifies it)."""
FP8_ROUNDING_BOUND = 0.1
"""FP8 e4m3 rounding with per-row scales of the block linears' weights and inputs, emulated:
measured 0.051."""
E4M3_MAX = 448.0


def _relative_l2(out: Tensor, exact: Tensor) -> float:
    return float((out - exact).norm() / exact.norm())


class Window:
    def __init__(self) -> None:
        self.model: XDubDiT = build_dit("tiny").eval()
        cfg = self.model.config
        gen = torch.Generator().manual_seed(3)
        shape = (1, cfg.in_dim, 3, 4, 4)
        self.ref = torch.randn(shape, generator=gen)
        self.audio = torch.randn(1, 3, 8, cfg.audio.in_dim, generator=gen)
        with torch.no_grad():
            context = torch.randn(1, 16, cfg.text_dim, generator=gen)
            self.text: TextContext = self.model.prepare_text(context, cache_kv=True)
        self.noise = window_noise(shape, 42, torch.float32)

    def run(
        self, reuse: GuidanceReuse | None = None, threshold: float = 0.0
    ) -> tuple[Tensor, SamplingStats]:
        velocity = GuidedVelocity(
            self.model,
            self.ref,
            self.audio,
            self.text,
            GuidanceScales(),
            num_motion_latents=0,
            reuse=reuse,
        )
        stats = SamplingStats()
        stepper = velocity
        if threshold:
            rule = StepCacheRule(threshold)
            indicator = ModulatedInput(self.model)
            stepper = CachedVelocity(velocity, indicator, rule, NUM_STEPS, stats=stats)  # type: ignore[assignment]
        with torch.no_grad():
            settings = SamplerSettings(num_steps=NUM_STEPS)
            return denoise_window(stepper, self.noise, self.ref, None, settings), stats


@pytest.fixture(scope="module")
def window() -> Window:
    return Window()


@pytest.fixture(scope="module")
def exact(window: Window) -> Tensor:
    return window.run()[0]


def test_step_cache_skips_and_stays_within_its_bound(window: Window, exact: Tensor) -> None:
    out, stats = window.run(threshold=FAST_STEP_CACHE_THRESHOLD)
    assert stats.skipped > 0, "the bound would prove nothing without a skipped step"
    assert stats.computed + stats.skipped == NUM_STEPS
    assert _relative_l2(out, exact) <= STEP_CACHE_BOUND


@pytest.mark.parametrize(
    "branch,bound", [("nega", REUSE_NEGA_BOUND), ("posi_r", REUSE_POSI_R_BOUND)]
)
def test_guidance_reuse_stays_within_its_bound(
    window: Window, exact: Tensor, branch: str, bound: float
) -> None:
    out, _ = window.run(reuse=GuidanceReuse(period=2, branch=branch))
    assert 0 < _relative_l2(out, exact) <= bound


def _e4m3_per_row(x: Tensor) -> Tensor:
    """Round each row (last axis) to float8 e4m3 with its own scale, as torchao's PerRow does."""
    scale = x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-12) / E4M3_MAX
    return (x / scale).to(torch.float8_e4m3fn).to(x.dtype) * scale


def test_fp8_rounding_emulated_stays_within_its_bound(window: Window, exact: Tensor) -> None:
    """torchao's FP8 kernels need sm89+, so on the CPU the format's rounding is emulated (weights
    per output row, inputs per token); benchmarks/gpu_suite.py measures the real kernels."""
    linears = [m for m in window.model.blocks.modules() if isinstance(m, torch.nn.Linear)]
    originals = [linear.weight.detach().clone() for linear in linears]
    hooks = [
        linear.register_forward_pre_hook(lambda _m, args: (_e4m3_per_row(args[0]),))
        for linear in linears
    ]
    try:
        with torch.no_grad():
            for linear in linears:
                linear.weight.copy_(_e4m3_per_row(linear.weight))
        out, _ = window.run()
    finally:
        for hook in hooks:
            hook.remove()
        with torch.no_grad():
            for linear, weight in zip(linears, originals, strict=True):
                linear.weight.copy_(weight)
    assert 0 < _relative_l2(out, exact) <= FP8_ROUNDING_BOUND


def test_switches_off_are_the_exact_path(window: Window, exact: Tensor) -> None:
    out, stats = window.run(reuse=GuidanceReuse(period=1), threshold=0.0)
    torch.testing.assert_close(out, exact, atol=0, rtol=0)
    assert stats.skipped == 0

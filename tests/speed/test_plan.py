"""Speed plans: presets, FP8 refusal off sm89+, and the draft's DiT FLOP saving (meta device)."""

from __future__ import annotations

import pytest
import torch

from xdub.errors import ModelError
from xdub.model.dit import build_dit
from xdub.protocol.records import Preset, Quality, VramPolicy
from xdub.speed.apply import DitSpeedups
from xdub.speed.flops import branch_passes_per_window, preset_cost
from xdub.speed.fp8 import Fp8Weights, require_fp8
from xdub.speed.plan import DRAFT_NUM_STEPS, draft_crop_size, plan_speed

CPU = torch.device("cpu")
MIN_DRAFT_SAVING = 5.0
"""Issue 16: a draft costs at least 5x fewer DiT FLOPs per video-second than a final take."""


def _plan(**changes: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "quality": Quality.EXACT,
        "preset": Preset.FINAL,
        "num_steps": 30,
        "crop_size": 512,
        "device": CPU,
    }
    return plan_speed(**{**args, **changes})  # type: ignore[arg-type]


def test_exact_final_changes_nothing() -> None:
    plan = _plan()
    assert (plan.num_steps, plan.crop_size, plan.fp8, plan.step_cache_threshold) == (
        30,
        512,
        False,
        0.0,
    )
    assert not plan.guidance_reuse.is_on and not plan.is_draft


def test_draft_is_fast_with_fewer_steps_and_a_smaller_crop() -> None:
    warnings: list[str] = []
    plan = _plan(preset=Preset.DRAFT, warnings=warnings)
    assert plan.quality is Quality.FAST and plan.is_draft
    assert (plan.num_steps, plan.crop_size) == (DRAFT_NUM_STEPS, 384)
    assert plan.step_cache_threshold > 0
    assert plan.as_metadata()["is_draft"] is True and plan.as_metadata()["preset"] == "draft"
    assert warnings and "without FP8" in warnings[0]  # fast mode says what it could not use


def test_draft_crop_stays_a_multiple_of_32() -> None:
    assert [draft_crop_size(s) for s in (512, 64, 32, 640)] == [384, 32, 32, 480]


def test_fp8_is_refused_on_the_cpu_with_a_clear_error() -> None:
    with pytest.raises(ModelError) as caught:
        require_fp8(CPU)
    assert caught.value.code == "unsupported_hardware"
    assert "compute capability 8.9" in caught.value.message and caught.value.hint
    with pytest.raises(ModelError, match="compute capability 8.9"):
        _plan(quality=Quality.FAST, fp8=True)
    with pytest.raises(ModelError, match="compute capability 8.9"):
        Fp8Weights(build_dit("tiny"))


def test_fp8_needs_the_resident_policy() -> None:
    plan = _plan(quality=Quality.FAST, fp8=False)
    forced = type(plan)(**{**plan.__dict__, "fp8": True})
    speedups = DitSpeedups(build_dit("tiny"), compile="off", vram_policy=VramPolicy.OFFLOAD)
    with pytest.raises(ModelError, match="resident"):
        speedups.apply(forced)


def test_exact_plan_leaves_the_tiny_dit_eager_on_cpu() -> None:
    model = build_dit("tiny")
    state = DitSpeedups(model, compile="auto").apply(_plan())
    assert state["compile"] == "eager" and model.attention_backend == "auto"


def test_branch_passes_with_guidance_reuse() -> None:
    assert branch_passes_per_window(30, 1) == 90
    assert branch_passes_per_window(10, 2) == 5 * 3 + 5 * 2
    assert branch_passes_per_window(7, 3) == 3 * 3 + 4 * 2


def test_draft_costs_five_times_fewer_dit_flops_per_video_second() -> None:
    model = build_dit("x-dub", device="meta", dtype=torch.bfloat16)
    final = preset_cost(model, _plan())
    draft = preset_cost(model, _plan(preset=Preset.DRAFT))
    # perf.md §1.1: 129.3 TFLOP per pass at 512 px; one window is 90 passes.
    assert final.pass_flops / 1e12 == pytest.approx(129.3, rel=0.01)
    assert final.window_flops == 90 * final.pass_flops
    assert final.video_second_flops / draft.video_second_flops >= MIN_DRAFT_SAVING

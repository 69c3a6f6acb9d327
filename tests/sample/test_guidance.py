"""Triple CFG: batch layout, dynamic scale schedules and the bf16 combination order."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from xdub.sample.guidance import (
    GuidanceScales,
    cfg_batch,
    combine_guidance,
    guided_velocity,
    ref_guidance_scale,
)
from xdub.sample.schedule import flow_sigmas, model_timestep, normalized_time, timesteps

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


@pytest.fixture(scope="module")
def golden(golden_dir: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    config = json.loads((golden_dir / "cfg_schedule.json").read_text())
    return config, load_file(golden_dir / "cfg_schedule.safetensors")


def _step_counts(config: dict) -> list[int]:
    return [int(m.group(1)) for key in config if (m := re.fullmatch(r"n(\d+)_bf16", key))]


def _scales_per_step(scales: GuidanceScales, num_steps: int, dtype: torch.dtype):
    model_ts = [model_timestep(t, dtype) for t in timesteps(flow_sigmas(num_steps))]
    per_step = [scales.at(t) for t in model_ts]
    return model_ts, per_step


def test_dynamic_scales_per_step_are_exact(golden) -> None:
    config, tensors = golden
    scales = GuidanceScales(config["ref_cfg_scale"], config["audio_cfg_scale"])
    assert _step_counts(config)
    for n in _step_counts(config):
        for name, dtype in DTYPES.items():
            model_ts, per_step = _scales_per_step(scales, n, dtype)
            t = torch.cat([normalized_time(mt) for mt in model_ts])
            s_r = torch.cat([pair[0] for pair in per_step])
            s_a = torch.cat([pair[1] for pair in per_step])
            assert s_r.dtype == dtype and s_a.dtype == dtype
            # README §4: every op runs in the timestep dtype and reproduces exactly.
            assert torch.equal(t.float(), tensors[f"n{n}_{name}_t"]), (n, name)
            assert torch.equal(s_r.float(), tensors[f"n{n}_{name}_ref_scale"]), (n, name)
            assert torch.equal(s_a.float(), tensors[f"n{n}_{name}_audio_scale"]), (n, name)


def test_ref_schedule_on_the_dense_grid_including_band_edges(golden) -> None:
    config, tensors = golden
    for name, dtype in DTYPES.items():
        t = tensors[f"grid_t_{name}"].to(dtype)
        result = ref_guidance_scale(t, config["ref_cfg_scale"])
        assert result.dtype == dtype
        assert torch.equal(result.float(), tensors[f"grid_ref_scale_{name}"]), name


def test_combination_rounds_like_the_reference(golden) -> None:
    config, tensors = golden
    branches = tensors["comb_pred_branches"]
    first_count = _step_counts(config)[0]
    scales = GuidanceScales(config["ref_cfg_scale"], config["audio_cfg_scale"])
    for name, dtype in DTYPES.items():
        _, per_step = _scales_per_step(scales, first_count, dtype)
        for step in config["comb_step_indices"]:
            s_r, s_a = per_step[step]
            stored = tensors[f"comb_step{step}_{name}_scales"]
            assert torch.equal(torch.cat([s_r, s_a]).float(), stored), (step, name)
            nega, posi_r, posi_ra = branches.to(dtype).chunk(3)
            combined = combine_guidance(nega, posi_r, posi_ra, s_r, s_a)
            # README §4: bf16 rounding order verified bit-exact, fp32 deterministic.
            assert torch.equal(combined.float(), tensors[f"comb_step{step}_{name}"]), (step, name)
            assert torch.equal(guided_velocity(branches.to(dtype), s_r, s_a), combined)


def test_static_scales_are_the_base_floats() -> None:
    scales = GuidanceScales(2.0, 7.0, is_dynamic=False)
    assert scales.at(torch.tensor([500.0])) == (2.0, 7.0)


def test_cfg_batch_is_zeros_ref_ref_and_zeros_zeros_audio(golden_dir: Path) -> None:
    inputs = load_file(golden_dir / "dit_forward_fp32.safetensors")
    ref, audio = inputs["ref_latents"], inputs["audio_feats"]
    ref3, audio3 = cfg_batch(ref, audio)
    assert ref3.shape == (3, *ref.shape[1:]) and audio3.shape == (3, *audio.shape[1:])
    assert not ref3[0].any() and torch.equal(ref3[1], ref[0]) and torch.equal(ref3[2], ref[0])
    assert not audio3[0].any() and not audio3[1].any() and torch.equal(audio3[2], audio[0])


def test_guided_velocity_needs_three_branches() -> None:
    with pytest.raises(ValueError, match="batch 3"):
        guided_velocity(torch.zeros(2, 48, 1, 2, 2), 1.0, 1.0)

"""Flow-match sigmas, timesteps and the Euler step against the reference scheduler."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from xdub.sample.schedule import (
    euler_step,
    flow_sigmas,
    model_timestep,
    sigma_interval,
    timesteps,
)

STEP_KEY = re.compile(r"n(\d+)_step(\d+)_sample")


@pytest.fixture(scope="module")
def tables(golden_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(golden_dir / "scheduler.safetensors")


def _step_counts(golden_dir: Path) -> list[int]:
    """Step counts of the full-strength schedules (X-Dub always denoises from sigma 1)."""
    entries = json.loads((golden_dir / "scheduler.json").read_text())
    return [int(m.group(1)) for key in entries if (m := re.fullmatch(r"n(\d+)", key))]


def test_sigmas_and_timesteps_equal_the_reference_tables(golden_dir: Path, tables) -> None:
    counts = _step_counts(golden_dir)
    assert counts
    for n in counts:
        sigmas = flow_sigmas(n)
        # Deterministic float32 arithmetic: exact.
        assert sigmas.dtype == torch.float32 and sigmas.shape == (n,)
        assert torch.equal(sigmas, tables[f"n{n}_sigmas"]), n
        assert torch.equal(timesteps(sigmas), tables[f"n{n}_timesteps"]), n


def test_model_timestep_is_the_bf16_cast(golden_dir: Path, tables) -> None:
    for n in _step_counts(golden_dir):
        model_ts = [model_timestep(t, torch.bfloat16) for t in timesteps(flow_sigmas(n))]
        assert all(t.shape == (1,) and t.dtype == torch.bfloat16 for t in model_ts)
        assert torch.equal(torch.cat(model_ts).float(), tables[f"n{n}_timesteps_bf16"]), n


def test_step_index_equals_the_reference_lookup_by_timestep(golden_dir: Path) -> None:
    # The reference finds sigma by argmin|timesteps - t|; indexing by step is the same thing.
    for n in _step_counts(golden_dir):
        table = timesteps(flow_sigmas(n))
        found = [int(torch.argmin((table - t).abs())) for t in table]
        assert found == list(range(n))


def test_euler_step_is_bit_exact_in_fp32_and_bf16(tables) -> None:
    cases = [m for key in tables if (m := STEP_KEY.fullmatch(key))]
    assert cases
    for case in cases:
        n, step = int(case.group(1)), int(case.group(2))
        prefix = f"n{n}_step{step}"
        sample, velocity = tables[f"{prefix}_sample"], tables[f"{prefix}_model_output"]
        sigma, sigma_next = sigma_interval(flow_sigmas(n), step)
        fp32 = euler_step(sample, velocity, sigma, sigma_next)
        bf16 = euler_step(sample.bfloat16(), velocity.bfloat16(), sigma, sigma_next)
        # README §3: both formulas reproduce the reference bit for bit.
        assert torch.equal(fp32, tables[f"{prefix}_prev_fp32"]), prefix
        assert bf16.dtype == torch.bfloat16
        assert torch.equal(bf16.float(), tables[f"{prefix}_prev_bf16"]), prefix


def test_sigma_after_the_last_step_is_zero() -> None:
    sigmas = flow_sigmas(7)
    sigma, sigma_next = sigma_interval(sigmas, 6)
    assert sigma == sigmas[6] and sigma_next == 0.0
    assert sigma_interval(sigmas, 0)[1] == sigmas[1]
    with pytest.raises(ValueError, match="step_index"):
        sigma_interval(sigmas, 7)

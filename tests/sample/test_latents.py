"""Border-ring replacement, re-noised reference, border sigma and latent stitching."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from xdub.sample.latents import (
    border_sigma,
    impose_motion_latents,
    noised_reference,
    replace_latent_borders,
    stitch_clips,
    stitch_transition,
)
from xdub.sample.schedule import flow_sigmas, model_timestep, timesteps


@pytest.fixture(scope="module")
def pieces(golden_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(golden_dir / "loop_pieces.safetensors")


def test_border_replacement_is_exact(pieces) -> None:
    cases = [m for key in pieces if (m := re.fullmatch(r"border_sf(\d+)_bw(\d+)", key))]
    assert cases
    latents, border = pieces["border_latents_in"], pieces["border_border_in"]
    for case in cases:
        start_frame, width = int(case.group(1)), int(case.group(2))
        out = replace_latent_borders(latents, border, start_frame, width)
        assert torch.equal(out, pieces[case.group(0)]), case.group(0)
    assert torch.equal(pieces["border_latents_in"], latents)  # the input is not modified


def test_border_replacement_past_the_last_frame_is_a_no_op(pieces) -> None:
    latents, border = pieces["border_latents_in"], pieces["border_border_in"]
    assert replace_latent_borders(latents, border, latents.shape[2], 1) is latents
    assert replace_latent_borders(latents, border, 0, 0) is latents
    with pytest.raises(ValueError, match="same shape"):
        replace_latent_borders(latents, border[:, :, 1:], 0, 1)


def test_noised_reference_in_fp32_and_bf16(pieces) -> None:
    cases = [m for key in pieces if (m := re.fullmatch(r"xt_s(\d+)p(\d+)_fp32", key))]
    assert cases
    ref, noise = pieces["xt_ref"], pieces["xt_noise"]
    for case in cases:
        sigma = float(f"{case.group(1)}.{case.group(2)}")
        tag = f"xt_s{case.group(1)}p{case.group(2)}"
        # Elementwise and deterministic in both dtypes: exact.
        fp32 = noised_reference(ref, noise, torch.tensor([sigma]))
        assert torch.equal(fp32, pieces[f"{tag}_fp32"]), tag
        bf16 = noised_reference(ref.bfloat16(), noise.bfloat16(), torch.tensor([sigma]))
        assert bf16.dtype == torch.bfloat16
        assert torch.equal(bf16.float(), pieces[f"{tag}_bf16"]), tag


def test_border_sigma_per_step_from_the_bf16_timestep(pieces) -> None:
    expected = pieces["border_sigma_bf16_per_step"]
    table = timesteps(flow_sigmas(expected.shape[0]))
    sigmas = torch.cat([border_sigma(model_timestep(t, torch.bfloat16)) for t in table])
    assert sigmas.dtype == torch.bfloat16
    assert torch.equal(sigmas.float(), expected)


def test_stitch_transition_in_fp32_and_bf16(pieces) -> None:
    prev, cur = pieces["transition_prev"], pieces["transition_cur"]
    new_prev, tail = stitch_transition(prev, cur)
    assert torch.equal(new_prev, pieces["transition_prev_out"])
    assert torch.equal(tail, pieces["transition_cur_out"])
    new_prev_bf16, _ = stitch_transition(prev.bfloat16(), cur.bfloat16())
    assert torch.equal(new_prev_bf16.float(), pieces["transition_prev_out_bf16"])


def test_stitch_clips_chains_the_transitions(pieces) -> None:
    clips = [pieces["transition_prev"], pieces["transition_cur"], pieces["transition_prev"]]
    stitched = stitch_clips(clips)
    first, second = stitch_transition(clips[0], clips[1])
    second, third = stitch_transition(second, clips[2])
    assert torch.equal(stitched, torch.cat([first, second, third], dim=2))
    num_latents = clips[0].shape[2]
    assert stitched.shape[2] == num_latents + 2 * (num_latents - 2)


def test_impose_motion_latents_overwrites_the_first_frames(pieces) -> None:
    latents = pieces["transition_prev"]
    motion = pieces["transition_cur"][:, :, :2]
    out = impose_motion_latents(latents, motion)
    assert torch.equal(out[:, :, :2], motion) and torch.equal(out[:, :, 2:], latents[:, :, 2:])
    assert not torch.equal(out, latents)

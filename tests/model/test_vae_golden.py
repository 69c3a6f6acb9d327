"""The tiny Wan2.2 VAE against the reference's golden encodes and decodes (golden README §5b)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from xdub.model.vae import WanVae
from xdub.model.vae_config import VaeConfig
from xdub.weights.loading import load_vae, module_specs, read_safetensors_specs

# fp32 encoder kernels of our torch build differ from the generator's torch 2.13 by float
# rounding only (measured 3.6e-6 on latents of max ~5); README: stage-wise atol 1e-4.
LATENT_ATOL = 1e-4
# uint8 frames are truncated, so a value within ~1e-6 of an integer can flip one level
# (measured: 5 of 1.8 M pixels); README: abs diff <= 2 on <= 0.1 % of pixels.
UINT8_MAX_DIFF = 2
UINT8_MAX_FRACTION = 1e-3


@pytest.fixture(scope="module")
def loop_config(golden_dir: Path) -> dict:
    return json.loads((golden_dir / "loop_config.json").read_text())


@pytest.fixture(scope="module")
def vae(golden_dir: Path, loop_config: dict) -> WanVae:
    config = VaeConfig.from_json(loop_config["vae"])
    return load_vae(
        golden_dir / "tiny_vae.safetensors", device="cpu", dtype=torch.float32, config=config
    )


def assert_frames_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape and actual.dtype == np.uint8
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= UINT8_MAX_DIFF
    assert np.count_nonzero(diff) <= UINT8_MAX_FRACTION * diff.size


def test_golden_vae_file_matches_the_module_structure(golden_dir: Path, vae: WanVae) -> None:
    found = read_safetensors_specs(golden_dir / "tiny_vae.safetensors")
    assert found == module_specs(vae.module)


def test_encode_of_each_clip_matches_reference_latents(
    golden_dir: Path, loop_config: dict, vae: WanVae
) -> None:
    ref_video = load_file(golden_dir / "loop_inputs.safetensors")["ref_video"]
    pingpong = ref_video[torch.tensor(loop_config["pingpong_indices"])]
    for index, clip in enumerate(loop_config["clips"]):
        frames = pingpong[clip["start_idx"] : clip["start_idx"] + loop_config["clip_num_frames"]]
        expected = load_file(golden_dir / f"loop_clip{index}.safetensors")["ref_latents"]
        latents = vae.encode(frames.numpy())
        assert latents.dtype == torch.float32
        torch.testing.assert_close(latents, expected, rtol=0, atol=LATENT_ATOL)


def test_encode_of_motion_frames_matches_reference(
    golden_dir: Path, loop_config: dict, vae: WanVae
) -> None:
    motion_clips = [i for i, clip in enumerate(loop_config["clips"]) if clip["use_motion_latents"]]
    assert motion_clips, "the golden loop has a clip with motion latents"
    for index in motion_clips:
        golden = load_file(golden_dir / f"loop_clip{index}.safetensors")
        latents = vae.encode(golden["motion_video"])  # a uint8 tensor works as well as numpy
        assert latents.shape[2] == loop_config["motion_latents_num_frames"]
        torch.testing.assert_close(latents, golden["motion_latents"], rtol=0, atol=LATENT_ATOL)


def test_streamed_decode_of_stitched_latents_matches_final_frames(
    golden_dir: Path, loop_config: dict, vae: WanVae
) -> None:
    final = load_file(golden_dir / "loop_final.safetensors")
    frames = np.concatenate(list(vae.decode_stream(final["stitched_latents"])))
    assert_frames_close(frames[: loop_config["total_length"]], final["final_decoded"].numpy())


def test_streamed_decode_of_each_clip_matches_its_last_frames(
    golden_dir: Path, loop_config: dict, vae: WanVae
) -> None:
    for index in range(loop_config["num_clips"]):
        golden = load_file(golden_dir / f"loop_clip{index}.safetensors")
        frames = np.concatenate(list(vae.decode_stream(golden["final_latents"])))
        last = golden["decoded_last5"].shape[0]
        assert_frames_close(frames[-last:], golden["decoded_last5"].numpy())

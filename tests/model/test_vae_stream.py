"""Streamed VAE decoding equals DiffSynth's one-shot ``decode(tiled=False)`` bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from xdub.model.vae import VAE_TEMPORAL_FACTOR, WanVae, vae_output_to_frames
from xdub.model.vae_config import VaeConfig
from xdub.sample.latents import stitch_clips, stitch_piece
from xdub.weights.loading import load_vae


def golden_vae(golden_dir: Path, dtype: torch.dtype) -> WanVae:
    config = VaeConfig.from_json(json.loads((golden_dir / "loop_config.json").read_text())["vae"])
    return load_vae(golden_dir / "tiny_vae.safetensors", device="cpu", dtype=dtype, config=config)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_stream_equals_one_shot_decode(golden_dir: Path, dtype: torch.dtype) -> None:
    vae = golden_vae(golden_dir, dtype)
    clip_latents = load_file(golden_dir / "loop_clip0.safetensors")["final_latents"]
    latents = clip_latents.to(dtype)
    num_latents = latents.shape[2]

    chunks = list(vae.decode_stream(latents))

    assert [len(chunk) for chunk in chunks] == [1] + [VAE_TEMPORAL_FACTOR] * (num_latents - 1)
    with torch.no_grad():
        one_shot = vae_output_to_frames(vae.module.decode(latents, device="cpu", tiled=False))
    np.testing.assert_array_equal(np.concatenate(chunks), one_shot)


def test_encode_then_decode_keeps_the_frame_geometry(golden_dir: Path) -> None:
    vae = golden_vae(golden_dir, torch.float32)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(1 + VAE_TEMPORAL_FACTOR, 32, 48, 3), dtype=np.uint8)

    latents = vae.encode(frames)

    assert latents.shape == (1, vae.z_dim, 2, 32 // vae.spatial_factor, 48 // vae.spatial_factor)
    decoded = np.concatenate(list(vae.decode_stream(latents)))
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8


@pytest.mark.parametrize(
    ("shape", "dtype", "reason"),
    [
        ((4, 32, 32, 3), np.uint8, "1 \\+ 4k"),
        ((5, 40, 32, 3), np.uint8, "multiple of 16"),
        ((5, 32, 32, 3), np.float32, "uint8"),
    ],
)
def test_encode_rejects_frames_it_cannot_encode(
    golden_dir: Path, shape: tuple[int, ...], dtype: type, reason: str
) -> None:
    vae = golden_vae(golden_dir, torch.float32)
    with pytest.raises(ValueError, match=reason):
        vae.encode(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_stitched_pieces_decoded_window_by_window_equal_the_whole_decode(
    golden_dir: Path, dtype: torch.dtype
) -> None:
    """What the streamed take decodes after each window (``stitch_piece`` through one
    ``LatentDecoder``) is the one-shot stitch and decode, bit for bit."""
    vae = golden_vae(golden_dir, dtype)
    config = json.loads((golden_dir / "loop_config.json").read_text())
    windows = [
        load_file(golden_dir / f"loop_clip{k}.safetensors")["final_latents"].to(dtype)
        for k in range(config["num_clips"])
    ]
    assert len(windows) >= 2
    whole = np.concatenate(list(vae.decode_stream(stitch_clips(windows))))
    decoder = vae.stream_decoder()
    pieces = []
    for k in range(len(windows)):
        piece = stitch_piece(windows, k, is_last=k + 1 == len(windows))
        pieces += list(decoder.decode(piece))
    np.testing.assert_array_equal(np.concatenate(pieces), whole)

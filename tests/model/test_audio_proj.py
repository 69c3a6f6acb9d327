"""AudioProj against the reference ``AudioProjModule`` (golden/README.md §2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from xdub.model.audio_proj import AudioProj
from xdub.model.config import AudioProjConfig, DiTConfig

# README: fp32 vs the fp64 shadow of the reference module is at most 5.3e-6.
ATOL = 5e-5
PREFIX = "audio_embedding."


@pytest.fixture(scope="module")
def audio_config(golden_dir: Path) -> AudioProjConfig:
    reference = json.loads((golden_dir / "tiny_dit_config.json").read_text())
    return DiTConfig.from_reference_kwargs(reference).audio


@pytest.fixture(scope="module")
def golden_weights(golden_dir: Path) -> dict[str, torch.Tensor]:
    weights = load_file(golden_dir / "tiny_dit.safetensors")
    return {k.removeprefix(PREFIX): v for k, v in weights.items() if k.startswith(PREFIX)}


@pytest.fixture(scope="module")
def audio_proj(audio_config: AudioProjConfig, golden_weights: dict[str, torch.Tensor]) -> AudioProj:
    module = AudioProj(audio_config)
    module.load_state_dict(golden_weights, strict=True)
    return module.eval()


def test_fresh_positional_table_equals_the_stored_buffer(
    audio_config: AudioProjConfig, golden_weights: dict[str, torch.Tensor]
) -> None:
    fresh = AudioProj(audio_config).state_dict()
    pe_keys = [k for k in fresh if k.endswith("pos_embed.pe")]
    assert len(pe_keys) == audio_config.num_layers
    for key in pe_keys:
        torch.testing.assert_close(fresh[key], golden_weights[key], atol=0, rtol=0)


def test_outputs_match_reference(audio_proj: AudioProj, golden_dir: Path) -> None:
    golden = load_file(golden_dir / "audio_proj_fp32.safetensors")
    feats = golden["input"]
    captured: dict[str, torch.Tensor] = {}
    hooks = [
        audio_proj.proj_in.register_forward_hook(
            lambda _m, _a, out: captured.__setitem__("proj_in_out", out)
        )
    ]
    for i, layer in enumerate(audio_proj.layers):
        hooks.append(
            layer.register_forward_hook(
                lambda _m, _a, out, i=i: captured.__setitem__(f"layer{i}_out", out)
            )
        )
    try:
        with torch.no_grad():
            out = audio_proj(feats)
    finally:
        for hook in hooks:
            hook.remove()
    zero_feats = feats.new_zeros(*golden["output_zero_input"].shape[:-1], feats.shape[-1])
    with torch.no_grad():
        out_zero = audio_proj(zero_feats)

    torch.testing.assert_close(out, golden["output"], atol=ATOL, rtol=0)
    torch.testing.assert_close(out, golden["output_fp64"].float(), atol=ATOL, rtol=0)
    # Zero audio (the null CFG branches) still gives a biased, non-zero embedding.
    torch.testing.assert_close(out_zero, golden["output_zero_input"], atol=ATOL, rtol=0)
    assert out_zero.abs().max() > 0
    assert len(captured) == 1 + len(audio_proj.layers)
    for name, value in captured.items():
        # Layers work on (B*F, 8, C); the reference stored (B, F, 8, C).
        expected = golden[name]
        torch.testing.assert_close(value.reshape(expected.shape), expected, atol=ATOL, rtol=0)

"""The DiT's state-dict layout: released manifest at full size (meta device) and tiny golden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from xdub.errors import ModelError
from xdub.model.config import DiTConfig
from xdub.model.dit import VARIANTS, XDubDiT, build_dit


@pytest.fixture(scope="module")
def meta_model() -> XDubDiT:
    """The full-size DiT with shapes only (bf16, meta device)."""
    return build_dit("x-dub", device="meta", dtype=torch.bfloat16)


def test_full_size_state_dict_equals_the_released_manifest(
    reference_dir: Path, meta_model: XDubDiT
) -> None:
    manifest = json.loads((reference_dir / "xdub_dit_keys.json").read_text())
    state = meta_model.state_dict()
    assert list(state) == list(manifest)  # same keys, same order
    assert {k: list(v.shape) for k, v in state.items()} == manifest
    assert all(v.device.type == "meta" and v.dtype == torch.bfloat16 for v in state.values())


def test_positional_tables_are_persistent_buffers(meta_model: XDubDiT) -> None:
    buffers = dict(meta_model.named_buffers())
    num_layers = meta_model.config.audio.num_layers
    assert sorted(buffers) == [
        f"audio_embedding.layers.{i}.pos_embed.pe" for i in range(num_layers)
    ]
    assert set(buffers) <= set(meta_model.state_dict())


def test_tiny_golden_checkpoint_loads_strictly(golden_dir: Path) -> None:
    reference = json.loads((golden_dir / "tiny_dit_config.json").read_text())
    model = XDubDiT(DiTConfig.from_reference_kwargs(reference))
    state = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert state == reference["state_dict_keys"]
    assert len(state) == reference["num_state_dict_tensors"]
    model.load_state_dict(load_file(golden_dir / "tiny_dit.safetensors"), strict=True)


def test_meta_model_takes_weights_by_assignment(golden_dir: Path) -> None:
    reference = json.loads((golden_dir / "tiny_dit_config.json").read_text())
    weights = load_file(golden_dir / "tiny_dit.safetensors")
    with torch.device("meta"):
        model = XDubDiT(DiTConfig.from_reference_kwargs(reference))
    model.load_state_dict(weights, strict=True, assign=True)
    assert all(t.device.type == "cpu" for t in model.state_dict().values())


def test_build_dit_variants() -> None:
    assert set(VARIANTS) == {"x-dub", "tiny"}
    tiny = build_dit("tiny", dtype=torch.float64)
    assert tiny.config == DiTConfig.tiny_for_tests()
    params = list(tiny.parameters())
    assert all(p.dtype == torch.float64 and p.device.type == "cpu" for p in params)
    assert all(torch.isfinite(p).all() and p.std() > 0 for p in params if p.numel() > 1)
    # Recomputed, not left as to_empty() garbage.
    fresh = XDubDiT(tiny.config).audio_embedding.layers[0].pos_embed.pe.double()
    torch.testing.assert_close(tiny.audio_embedding.layers[0].pos_embed.pe, fresh)
    with pytest.raises(ModelError, match="unknown DiT variant"):
        build_dit("x-dub-1b")


def test_full_size_forward_runs_on_meta(meta_model: XDubDiT) -> None:
    cfg = meta_model.config

    def empty(*shape: int) -> torch.Tensor:
        return torch.empty(shape, device="meta", dtype=torch.bfloat16)

    with torch.no_grad():
        out = meta_model(
            empty(1, cfg.in_dim, 3, 4, 6),
            empty(1),
            empty(3, cfg.in_dim, 3, 4, 6),
            empty(1, 7, cfg.text_dim),
            empty(3, 3, 8, cfg.audio.in_dim),
            num_motion_latents=2,
        )
    assert out.shape == (3, cfg.out_dim, 3, 4, 6)

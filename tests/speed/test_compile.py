"""Regional torch.compile on the CPU: golden numerics, one compiled code for every block, and a
logged fallback to eager when the compiler fails."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import Tensor
from torch._dynamo.utils import counters

from xdub.model.config import DiTConfig
from xdub.model.dit import XDubDiT, build_dit, init_random_weights
from xdub.speed.compile import compile_blocks

FP32_ATOL = 1e-4
"""The golden fp32 tolerance of tests/model/test_dit_golden.py (compile reorders float sums)."""


def _golden_call(model: XDubDiT, golden_dir: Path) -> tuple[Tensor, Tensor]:
    g = load_file(golden_dir / "dit_forward_fp32.safetensors")
    ref, audio = g["ref_latents"], g["audio_feats"]
    with torch.no_grad():
        out = model(
            g["latents"],
            g["timestep_nomotion"],
            torch.cat([torch.zeros_like(ref), ref, ref]),
            torch.cat([g["context"]] * 3),
            torch.cat([torch.zeros_like(audio), torch.zeros_like(audio), audio]),
        )
    return out, g["out_cfg3_nomotion"]


def _unique_graphs(num_blocks: int) -> int:
    """Graphs dynamo builds for one forward of a fresh compiled tiny DiT of ``num_blocks``."""
    torch._dynamo.reset()
    counters.clear()
    config = dataclasses.replace(DiTConfig.tiny_for_tests(), num_blocks=num_blocks)
    model = XDubDiT(config)
    init_random_weights(model)
    compile_blocks(model.eval())
    cfg = model.config
    latents = torch.randn(1, cfg.in_dim, 2, 2, 2)
    audio = torch.randn(1, 2, 8, cfg.audio.in_dim)
    with torch.no_grad():
        model(latents, torch.tensor([500.0]), latents, torch.randn(1, 4, cfg.text_dim), audio)
    return int(counters["stats"]["unique_graphs"])


def test_compiled_blocks_match_the_golden_forward(golden_dir: Path) -> None:
    config = DiTConfig.from_reference_kwargs(
        json.loads((golden_dir / "tiny_dit_config.json").read_text())
    )
    model = XDubDiT(config)
    model.load_state_dict(load_file(golden_dir / "tiny_dit.safetensors"), strict=True)
    state = compile_blocks(model.eval())
    out, golden = _golden_call(model, golden_dir)
    assert state.status == "compiled", state.reason
    torch.testing.assert_close(out, golden, atol=FP32_ATOL, rtol=0)


def test_one_compiled_block_serves_every_block() -> None:
    assert _unique_graphs(3) == _unique_graphs(1)


def test_compile_failure_falls_back_to_eager_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_backend(_graph: object, _inputs: object) -> object:
        raise RuntimeError("no C++ compiler")

    torch._dynamo.reset()
    model = build_dit("tiny").eval()
    cfg = model.config
    latents = torch.randn(1, cfg.in_dim, 2, 2, 2)
    args = (latents, torch.tensor([500.0]), latents, torch.randn(1, 4, cfg.text_dim))
    audio = torch.randn(1, 2, 8, cfg.audio.in_dim)
    with torch.no_grad():
        eager = model(*args, audio)
        state = compile_blocks(model, backend=broken_backend)
        with caplog.at_level(logging.WARNING, logger="xdub.speed.compile"):
            out = model(*args, audio)
    assert state.status == "fallback"
    assert state.reason is not None and "no C++ compiler" in state.reason
    assert "run eagerly" in caplog.text
    torch.testing.assert_close(out, eager, atol=0, rtol=0)
    assert all("forward" not in vars(block) for block in model.blocks)  # eager for good


def test_cuda_graphs_are_refused_off_cuda() -> None:
    model = build_dit("tiny").eval()
    state = compile_blocks(model, cuda_graphs=True)
    assert state.status == "compiled" and not state.cuda_graphs
    assert state.reason is not None and "CUDA graphs need a CUDA device" in state.reason

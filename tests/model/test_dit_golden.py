"""XDubDiT against the reference ``model_fn_wan_video`` golden tensors (golden/README.md §1)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import Tensor

from xdub.model.config import DiTConfig
from xdub.model.dit import XDubDiT
from xdub.model.timestep import sinusoidal_embedding

# README: fp32 vs the fp64 shadow is at most ~3e-6 on outputs of magnitude ~5.
FP32_ATOL = 1e-4
# README: bf16 CPU kernels are not bit-reproducible; bf16 vs fp64 of the same inputs is 4.6e-2.
BF16_ATOL = 0.1


@dataclass(frozen=True)
class CfgInputs:
    """The reference CFG batch [nega, posi_r, posi_ra] plus the batch-1 inputs it came from."""

    golden: dict[str, Tensor]
    ref3: Tensor
    audio3: Tensor
    context3: Tensor
    num_motion_latents: int

    def cast(self, dtype: torch.dtype) -> CfgInputs:
        return CfgInputs(
            {k: v.to(dtype) for k, v in self.golden.items()},
            self.ref3.to(dtype),
            self.audio3.to(dtype),
            self.context3.to(dtype),
            self.num_motion_latents,
        )


@pytest.fixture(scope="module")
def golden_model(golden_dir: Path) -> XDubDiT:
    config = DiTConfig.from_reference_kwargs(
        json.loads((golden_dir / "tiny_dit_config.json").read_text())
    )
    model = XDubDiT(config)
    model.load_state_dict(load_file(golden_dir / "tiny_dit.safetensors"), strict=True)
    return model.eval()


@pytest.fixture(scope="module")
def cfg_inputs(golden_dir: Path) -> CfgInputs:
    golden = load_file(golden_dir / "dit_forward_fp32.safetensors")
    ref, audio = golden["ref_latents"], golden["audio_feats"]
    loop_config = json.loads((golden_dir / "loop_config.json").read_text())
    # Motion frames -> latents through the VAE's 4x causal temporal compression.
    num_motion_latents = (loop_config["motion_num_frames"] - 1) // 4 + 1
    return CfgInputs(
        golden,
        torch.cat([torch.zeros_like(ref), ref, ref]),
        torch.cat([torch.zeros_like(audio), torch.zeros_like(audio), audio]),
        torch.cat([golden["context"]] * 3),
        num_motion_latents,
    )


def _run_cfg(model: XDubDiT, inputs: CfgInputs, *, motion: bool) -> Tensor:
    g = inputs.golden
    with torch.no_grad():
        return model(
            g["latents"],
            g["timestep_motion" if motion else "timestep_nomotion"],
            inputs.ref3,
            inputs.context3,
            inputs.audio3,
            num_motion_latents=inputs.num_motion_latents if motion else 0,
        )


@pytest.mark.parametrize("strict_parity", [False, True], ids=["fast_rope", "complex128_rope"])
def test_fp32_forward_matches_reference(
    golden_model: XDubDiT,
    cfg_inputs: CfgInputs,
    strict_parity: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(golden_model, "strict_parity", strict_parity)
    g = cfg_inputs.golden
    torch.testing.assert_close(
        _run_cfg(golden_model, cfg_inputs, motion=False),
        g["out_cfg3_nomotion"],
        atol=FP32_ATOL,
        rtol=0,
    )
    torch.testing.assert_close(
        _run_cfg(golden_model, cfg_inputs, motion=True),
        g["out_cfg3_motion"],
        atol=FP32_ATOL,
        rtol=0,
    )
    with torch.no_grad():
        out_b1 = golden_model(
            g["latents"], g["timestep_b1"], g["ref_latents"], g["context"], g["audio_feats"]
        )
    torch.testing.assert_close(out_b1, g["out_b1"], atol=FP32_ATOL, rtol=0)


def test_motion_latents_change_the_output(golden_model: XDubDiT, cfg_inputs: CfgInputs) -> None:
    g = cfg_inputs.golden
    with torch.no_grad():
        without_motion = golden_model(
            g["latents"],
            g["timestep_motion"],
            cfg_inputs.ref3,
            cfg_inputs.context3,
            cfg_inputs.audio3,
        )
    assert (without_motion - g["out_cfg3_motion"]).abs().max() > 100 * FP32_ATOL


def test_fp32_intermediates_match_reference(
    golden_model: XDubDiT, cfg_inputs: CfgInputs, golden_dir: Path
) -> None:
    inter = load_file(golden_dir / "dit_forward_fp32_intermediates.safetensors")
    g = cfg_inputs.golden
    timestep = g["timestep_nomotion"]
    config = golden_model.config
    close = {"atol": FP32_ATOL, "rtol": 0}

    # Sinusoid rows for [t=0, t]: float64 math, cast to float32, so bit-exact.
    sinusoid = sinusoidal_embedding(torch.cat([timestep.new_zeros(1), timestep]), config.freq_dim)
    torch.testing.assert_close(sinusoid, inter["time_sinusoid_rows"], atol=0, rtol=0)

    captured: dict[str, Tensor] = {}
    hooks = [
        block.register_forward_hook(
            lambda _m, _a, out, i=i: captured.__setitem__(f"block{i}_out", out)
        )
        for i, block in enumerate(golden_model.blocks)
    ]
    hooks.append(
        golden_model.head.register_forward_hook(
            lambda _m, args, out: captured.update(head_in_x=args[0], head_out=out)
        )
    )
    try:
        with torch.no_grad():
            t, t_mod = golden_model.time_rows(timestep)
            context_emb = golden_model.prepare_text(g["context"]).embedding
            audio_emb = golden_model.audio_embedding(cfg_inputs.audio3)
            tokens = golden_model.embed_tokens(g["latents"], cfg_inputs.ref3)
            _run_cfg(golden_model, cfg_inputs, motion=False)
    finally:
        for hook in hooks:
            hook.remove()

    torch.testing.assert_close(t, inter["t_rows"], **close)
    torch.testing.assert_close(t_mod, inter["t_mod_rows"], **close)
    torch.testing.assert_close(context_emb, inter["context_emb"], **close)
    torch.testing.assert_close(audio_emb, inter["audio_emb"], **close)
    patch_emb = inter["patch_emb"]
    torch.testing.assert_close(tokens, patch_emb.flatten(2).transpose(1, 2), **close)
    torch.testing.assert_close(tokens, inter["tokens_in"], **close)
    for name, value in captured.items():
        torch.testing.assert_close(value, inter[name], **close, msg=lambda m, n=name: f"{n}: {m}")
    assert len(captured) == len(golden_model.blocks) + 2

    _, _, frames2, h, w = patch_emb.shape
    rope = golden_model.rope.table(
        (frames2 // 2, h, w), device=torch.device("cpu"), dtype=torch.float32, strict_parity=True
    )
    # Same float64 angles and polar form as the reference: bit-exact.
    torch.testing.assert_close(torch.view_as_real(rope), inter["freqs"], atol=0, rtol=0)


def test_bf16_forward_matches_reference(
    golden_model: XDubDiT, cfg_inputs: CfgInputs, golden_dir: Path
) -> None:
    golden_bf16 = load_file(golden_dir / "dit_forward_bf16.safetensors")
    model = XDubDiT(golden_model.config).to(torch.bfloat16)
    model.load_state_dict(golden_model.state_dict())
    inputs = cfg_inputs.cast(torch.bfloat16)
    for case in ("nomotion", "motion"):
        # The model sees the timestep rounded to bf16 (e.g. 968.75 -> 968).
        fp32_timestep = cfg_inputs.golden[f"timestep_{case}"]
        torch.testing.assert_close(
            fp32_timestep.to(torch.bfloat16).float(), golden_bf16[f"timestep_{case}_bf16"]
        )
        out = _run_cfg(model, inputs, motion=case == "motion")
        assert out.dtype == torch.bfloat16
        torch.testing.assert_close(
            out.float(), golden_bf16[f"out_cfg3_{case}_bf16"], atol=BF16_ATOL, rtol=0
        )
        # Passing the fp32 timestep is the same call: forward casts it to the latents dtype.
        with torch.no_grad():
            from_fp32 = model(
                inputs.golden["latents"],
                fp32_timestep,
                inputs.ref3,
                inputs.context3,
                inputs.audio3,
                num_motion_latents=inputs.num_motion_latents if case == "motion" else 0,
            )
        torch.testing.assert_close(from_fp32, out, atol=0, rtol=0)

"""DiT numerics and result-preserving speedups, on our own tiny config with random weights."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

from xdub.errors import ModelError
from xdub.model.attention import attention, available_backends
from xdub.model.dit import XDubDiT, build_dit
from xdub.model.rope import apply_rope
from xdub.model.timestep import SegmentRows, sinusoidal_embedding

# Same math in a different float association order (batch folding, SDPA batch shapes).
REORDER_ATOL = 1e-5


@dataclass(frozen=True)
class Inputs:
    latents: Tensor  # (1, C, F, H, W)
    timestep: Tensor  # (1,)
    ref3: Tensor  # (3, C, F, H, W), branch 0 zeroed
    context: Tensor  # (1, L, text_dim)
    audio3: Tensor  # (3, F, 8, audio_in), branches 0 and 1 zeroed


@pytest.fixture(scope="module")
def model() -> XDubDiT:
    return build_dit("tiny").eval()


@pytest.fixture(scope="module")
def inputs(model: XDubDiT) -> Inputs:
    gen = torch.Generator().manual_seed(7)
    cfg = model.config
    shape = (1, cfg.in_dim, 3, 4, 6)  # H != W so swapped h/w offsets would show
    ref = torch.randn(shape, generator=gen)
    audio = torch.randn(1, 3, 8, cfg.audio.in_dim, generator=gen)
    return Inputs(
        latents=torch.randn(shape, generator=gen),
        timestep=torch.tensor([812.5]),
        ref3=torch.cat([torch.zeros_like(ref), ref, ref]),
        context=torch.randn(1, 16, cfg.text_dim, generator=gen),
        audio3=torch.cat([torch.zeros_like(audio), torch.zeros_like(audio), audio]),
    )


def _forward(model: XDubDiT, inputs: Inputs, **overrides: object) -> Tensor:
    args: dict[str, object] = {
        "latents": inputs.latents,
        "timestep": inputs.timestep,
        "ref_latents": inputs.ref3,
        "context": inputs.context,
        "audio_feats": inputs.audio3,
        **overrides,
    }
    with torch.no_grad():
        return model(**args)


def test_time_embedding_runs_only_for_distinct_timesteps(model: XDubDiT, inputs: Inputs) -> None:
    rows: dict[str, list[torch.Size]] = {"time_embedding": [], "time_projection": [], "patch": []}
    hooks = [
        model.time_embedding.register_forward_hook(
            lambda _m, args, _o: rows["time_embedding"].append(args[0].shape)
        ),
        model.time_projection.register_forward_hook(
            lambda _m, _a, out: rows["time_projection"].append(out.shape)
        ),
        model.patch_embedding.register_forward_hook(
            lambda _m, args, _o: rows["patch"].append(args[0].shape)
        ),
    ]
    try:
        out = _forward(model, inputs, num_motion_latents=1)
    finally:
        for hook in hooks:
            hook.remove()
    dim, freq_dim = model.config.dim, model.config.freq_dim
    assert rows["time_embedding"] == [torch.Size([2, freq_dim])]  # t=0 and t, not per token
    assert rows["time_projection"] == [torch.Size([2, 6 * dim])]
    # Target latents are embedded once (B0 = 1), reference latents per branch (B = 3).
    assert [s[0] for s in rows["patch"]] == [1, 3]
    assert out.shape == inputs.ref3.shape


def test_cfg_branches_are_independent_calls(model: XDubDiT, inputs: Inputs) -> None:
    merged = _forward(model, inputs)
    for branch in range(3):
        single = _forward(
            model,
            inputs,
            ref_latents=inputs.ref3[branch : branch + 1],
            audio_feats=inputs.audio3[branch : branch + 1],
        )
        torch.testing.assert_close(merged[branch : branch + 1], single, atol=REORDER_ATOL, rtol=0)
    # The conditions matter: the three branches differ.
    assert (merged[0] - merged[1]).abs().max() > 1e-2
    assert (merged[1] - merged[2]).abs().max() > 1e-2


def test_repeating_latents_outside_equals_repeating_inside(model: XDubDiT, inputs: Inputs) -> None:
    inside = _forward(model, inputs, num_motion_latents=2)
    outside = _forward(
        model,
        inputs,
        latents=inputs.latents.repeat(3, 1, 1, 1, 1),
        timestep=inputs.timestep.repeat(3),
        num_motion_latents=2,
    )
    torch.testing.assert_close(inside, outside, atol=REORDER_ATOL, rtol=0)


def test_per_row_timesteps_with_b0_equal_b(model: XDubDiT, inputs: Inputs) -> None:
    timesteps = torch.tensor([900.0, 500.0, 100.0])
    merged = _forward(
        model, inputs, latents=inputs.latents.repeat(3, 1, 1, 1, 1), timestep=timesteps
    )
    for branch in range(3):
        single = _forward(
            model,
            inputs,
            timestep=timesteps[branch : branch + 1],
            ref_latents=inputs.ref3[branch : branch + 1],
            audio_feats=inputs.audio3[branch : branch + 1],
        )
        torch.testing.assert_close(merged[branch : branch + 1], single, atol=REORDER_ATOL, rtol=0)


def test_prepared_text_and_cached_kv_give_the_same_velocity(model: XDubDiT, inputs: Inputs) -> None:
    plain = _forward(model, inputs)
    prepared = model.prepare_text(inputs.context)
    cached = model.prepare_text(inputs.context, cache_kv=True)
    assert cached.kv is not None and len(cached.kv) == model.config.num_blocks
    torch.testing.assert_close(_forward(model, inputs, context=prepared), plain, atol=0, rtol=0)
    torch.testing.assert_close(_forward(model, inputs, context=cached), plain, atol=0, rtol=0)
    # A per-branch context batch (as the reference passes it) needs no batch folding.
    per_branch = _forward(model, inputs, context=inputs.context.repeat(3, 1, 1))
    torch.testing.assert_close(per_branch, plain, atol=REORDER_ATOL, rtol=0)


def test_motion_latents_are_clean_tokens(model: XDubDiT, inputs: Inputs) -> None:
    # With t = 0 everywhere, declaring motion latents changes nothing.
    zero = inputs.timestep.new_zeros(1)
    torch.testing.assert_close(
        _forward(model, inputs, timestep=zero, num_motion_latents=2),
        _forward(model, inputs, timestep=zero),
        atol=0,
        rtol=0,
    )
    assert (
        _forward(model, inputs, num_motion_latents=2) - _forward(model, inputs)
    ).abs().max() > 1e-3


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fast_rope_matches_complex128_within_rounding(model: XDubDiT, dtype: torch.dtype) -> None:
    grid = (3, 2, 3)
    length = 2 * grid[0] * grid[1] * grid[2]
    x = torch.randn(2, length, model.config.num_heads, model.config.head_dim).to(dtype)
    kwargs = {"device": x.device, "dtype": dtype}
    strict = apply_rope(x, model.rope.table(grid, **kwargs, strict_parity=True))
    fast = apply_rope(x, model.rope.table(grid, **kwargs, strict_parity=False))
    assert strict.dtype == fast.dtype == dtype
    # fp32: ~1e-7 relative; bf16: at most one bf16 rounding step (2^-8 relative).
    rtol = 1e-6 if dtype == torch.float32 else 2**-8
    torch.testing.assert_close(fast.float(), strict.float(), rtol=rtol, atol=1e-6)
    # A rotation keeps each interleaved pair's length.
    pair_norm = lambda t: t.double().unflatten(-1, (-1, 2)).norm(dim=-1)  # noqa: E731
    torch.testing.assert_close(pair_norm(strict), pair_norm(x), rtol=2**-7, atol=1e-6)


def test_rope_tables_are_cached(model: XDubDiT) -> None:
    args = {"device": torch.device("cpu"), "dtype": torch.bfloat16, "strict_parity": False}
    first = model.rope.table((2, 2, 2), **args)
    assert model.rope.table((2, 2, 2), **args) is first
    assert model.rope.table((2, 2, 3), **args) is not first
    assert first.dtype == torch.float32  # bf16 inputs rotate in float32


def test_sinusoid_is_float64_math_cast_to_the_timestep_dtype() -> None:
    timesteps = torch.tensor([0.0, 968.75, 560.0, 1000.0])
    half = 128
    omega = torch.tensor([10000 ** (-i / half) for i in range(half)], dtype=torch.float64)
    for dtype in (torch.float64, torch.float32, torch.bfloat16):
        # The timestep is first rounded to its dtype (bf16: 968.75 -> 968), then used in fp64.
        angles = timesteps.to(dtype).double()[:, None] * omega
        expected = torch.cat([angles.cos(), angles.sin()], dim=1)
        got = sinusoidal_embedding(timesteps.to(dtype), 2 * half)
        assert got.dtype == dtype
        # Rounded once from float64 (up to 1 ulp of pow), so equal to the float64 result cast.
        torch.testing.assert_close(got, expected.to(dtype), atol=1e-12, rtol=0)


def test_sdpa_attention_is_softmax_attention() -> None:
    q, k, v = (torch.randn(2, n, 3, 8, dtype=torch.float64) for n in (5, 7, 7))
    weights = torch.softmax(torch.einsum("bqhd,bkhd->bhqk", q, k) / 8**0.5, dim=-1)
    expected = torch.einsum("bhqk,bkhd->bqhd", weights, v)
    torch.testing.assert_close(attention(q, k, v), expected)
    torch.testing.assert_close(attention(q, k, v, backend="auto"), expected)  # CPU -> sdpa


def test_unusable_attention_backends_raise_model_error() -> None:
    q = torch.randn(1, 4, 2, 8)
    with pytest.raises(ModelError, match="unknown attention backend"):
        attention(q, q, q, backend="xformers")  # type: ignore[arg-type]
    for name in ("flash", "sage"):
        expected = "needs CUDA" if name in available_backends() else "not installed"
        with pytest.raises(ModelError, match=expected):
            attention(q, q, q, backend=name)  # type: ignore[arg-type]


def test_segment_rows_tail_rebases_bounds() -> None:
    rows = SegmentRows((0, 7, 10), (torch.zeros(1, 1, 2), torch.ones(3, 1, 2)))
    tail = rows.tail(4)
    assert tail.bounds == (0, 3, 6)
    assert [s for s, _ in tail.segments()] == [slice(0, 3), slice(3, 6)]
    assert [s for s, _ in rows.tail(8).segments()] == [slice(0, 2)]
    with pytest.raises(ValueError, match="do not delimit"):
        SegmentRows((0, 5), (torch.zeros(1), torch.zeros(1)))


def test_bad_inputs_raise_model_error(model: XDubDiT, inputs: Inputs) -> None:
    with pytest.raises(ModelError, match="not a multiple"):
        _forward(model, inputs, latents=inputs.latents.repeat(2, 1, 1, 1, 1))
    with pytest.raises(ModelError, match="audio_feats"):
        _forward(model, inputs, audio_feats=inputs.audio3[:, :2])
    with pytest.raises(ModelError, match="differ beyond the batch"):
        _forward(model, inputs, ref_latents=inputs.ref3[:, :, :2])
    with pytest.raises(ModelError, match="latents are torch.float64, the DiT is torch.float32"):
        _forward(model, inputs, latents=inputs.latents.double())
    with pytest.raises(ModelError, match="audio_feats are torch.bfloat16"):
        _forward(model, inputs, audio_feats=inputs.audio3.bfloat16())
    with pytest.raises(ModelError, match="text context"):
        _forward(model, inputs, context=inputs.context[..., :3])
    with pytest.raises(ModelError, match="timestep must have shape"):
        _forward(model, inputs, timestep=inputs.timestep[0])
    with pytest.raises(ModelError, match="num_motion_latents"):
        _forward(model, inputs, num_motion_latents=4)

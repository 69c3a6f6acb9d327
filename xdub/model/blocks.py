"""Transformer pieces of the X-Dub DiT: RMSNorm, attention layers, the block and the head.

Token sequences are ``[ref | target]`` halves of N = F*h*w tokens each. Timestep conditioning
arrives as :class:`~xdub.model.timestep.SegmentRows` (one row per run of equal timesteps), so no
per-token (L, 6, dim) table is ever built.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from xdub.model.attention import AttentionBackend, attention
from xdub.model.config import DiTConfig
from xdub.model.rope import apply_rope
from xdub.model.timestep import SegmentRows


class RMSNorm(nn.Module):
    """RMS norm over the last axis in float32, cast back, then scaled by ``weight``.

    ``F.rms_norm`` is torch's fused kernel for ``x * rsqrt(mean(x^2) + eps)``.
    """

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        normed = F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps)
        return normed.to(x.dtype) * self.weight


def modulate(x: Tensor, segments: list[tuple[slice, Tensor, Tensor]]) -> Tensor:
    """``x * (1 + scale) + shift`` per token segment.

    x: (B, L, dim); segments: (token slice, shift, scale) with shift/scale (1 or B, 1, dim),
    covering all L tokens. Returns a new (B, L, dim) tensor.
    """
    out = torch.empty_like(x)
    for tokens, shift, scale in segments:
        part = out[:, tokens]
        torch.mul(x[:, tokens], 1 + scale, out=part)
        part += shift
    return out


def add_gated(x: Tensor, residual: Tensor, segments: list[tuple[slice, Tensor]]) -> Tensor:
    """``x + gate * residual`` per token segment (gate (1 or B, 1, dim)); returns a new tensor."""
    out = torch.empty_like(x)
    for tokens, gate in segments:
        torch.add(x[:, tokens], gate * residual[:, tokens], out=out[:, tokens])
    return out


class AttentionLayer(nn.Module):
    """q/k/v/o projections (dim -> dim, with bias) and RMSNorm on q and k over the full width."""

    def __init__(self, dim: int, num_heads: int, eps: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = RMSNorm(dim, eps)
        self.norm_k = RMSNorm(dim, eps)

    def _heads(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.num_heads, -1))

    def key_value(self, source: Tensor) -> tuple[Tensor, Tensor]:
        """source: (Bs, Lk, dim) -> normed keys and values, each (Bs, Lk, dim)."""
        return self.norm_k(self.k(source)), self.v(source)

    def self_attend(self, x: Tensor, rope: Tensor, backend: AttentionBackend) -> Tensor:
        """Full bidirectional attention with RoPE on q and k. x: (B, L, dim); rope: L rows."""
        k, v = self.key_value(x)
        q = apply_rope(self._heads(self.norm_q(self.q(x))), rope)
        k = apply_rope(self._heads(k), rope)
        out = attention(q, k, self._heads(v), backend=backend)
        return self.o(out.flatten(2))

    def cross_attend(
        self, x: Tensor, key_value: tuple[Tensor, Tensor], backend: AttentionBackend
    ) -> Tensor:
        """x: (B, Lq, dim) attends to key_value (Bs, Lk, dim), Bs = B or 1 (shared by all rows).

        A shared source is attended once by folding the batch into the query axis (exact).
        """
        k, v = key_value
        b, length, dim = x.shape
        q = self.norm_q(self.q(x))
        if k.shape[0] == 1 and b > 1:
            q = q.reshape(1, b * length, dim)
        out = attention(self._heads(q), self._heads(k), self._heads(v), backend=backend)
        return self.o(out.reshape(b, length, dim))


class DiTBlock(nn.Module):
    """Self-attention (all tokens), text and audio cross-attention (target only), FFN."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        dim, eps = config.dim, config.eps
        self.self_attn = AttentionLayer(dim, config.num_heads, eps)
        self.cross_attn = AttentionLayer(dim, config.num_heads, eps)
        self.norm1 = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.norm2 = nn.LayerNorm(dim, eps=eps, elementwise_affine=False)
        self.norm3 = nn.LayerNorm(dim, eps=eps)
        self.ffn = nn.Sequential(
            nn.Linear(dim, config.ffn_dim),
            nn.GELU(approximate="tanh"),
            nn.Linear(config.ffn_dim, dim),
        )
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / math.sqrt(dim))
        self.norm4 = nn.LayerNorm(dim, eps=eps)
        self.audio_attn = AttentionLayer(dim, config.num_heads, eps)

    def forward(
        self,
        x: Tensor,
        *,
        t_mod: SegmentRows,
        rope: Tensor,
        text_kv: tuple[Tensor, Tensor],
        audio: Tensor,
        num_ref_tokens: int,
        backend: AttentionBackend,
    ) -> Tensor:
        """One block.

        x: (B, 2N, dim), reference tokens first; t_mod rows (1 or B, 6, dim); rope: 2N rows;
        text_kv: this block's text keys/values (1 or B, L_text, dim); audio: (B, F, 8, dim)
        embedded audio tokens, F latent frames of N / F tokens each. Returns (B, 2N, dim).
        """
        mods = [
            (tokens, (self.modulation.to(row.dtype) + row).chunk(6, dim=1))
            for tokens, row in t_mod.segments()
        ]

        # 1. Self-attention over all tokens, modulated and gated per timestep segment.
        attn_in = modulate(self.norm1(x), [(tok, m[0], m[1]) for tok, m in mods])
        attn_out = self.self_attn.self_attend(attn_in, rope, backend)
        x = add_gated(x, attn_out, [(tok, m[2]) for tok, m in mods])

        # 2. Text cross-attention, target tokens only, no gate (x is ours: update in place).
        target = x[:, num_ref_tokens:]
        target += self.cross_attn.cross_attend(self.norm3(target), text_kv, backend)

        # 3. Audio cross-attention, frame-local: frame f's tokens see only its 8 audio tokens.
        b, num_frames, num_audio_tokens, dim = audio.shape
        frames = self.norm4(target).reshape(b * num_frames, -1, dim)
        audio_kv = self.audio_attn.key_value(audio.reshape(b * num_frames, num_audio_tokens, dim))
        target += self.audio_attn.cross_attend(frames, audio_kv, backend).view_as(target)

        # 4. Feed-forward over all tokens, modulated and gated per timestep segment.
        ffn_in = modulate(self.norm2(x), [(tok, m[3], m[4]) for tok, m in mods])
        return add_gated(x, self.ffn(ffn_in), [(tok, m[5]) for tok, m in mods])


class Head(nn.Module):
    """Target tokens -> patch velocities: LN, shift/scale from ``t`` (not ``t_mod``), Linear."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        dim = config.dim
        self.norm = nn.LayerNorm(dim, eps=config.eps, elementwise_affine=False)
        self.head = nn.Linear(dim, config.out_dim * math.prod(config.patch))
        self.modulation = nn.Parameter(torch.randn(1, 2, dim) / math.sqrt(dim))

    def forward(self, x: Tensor, t: SegmentRows) -> Tensor:
        """x: (B, N, dim) target tokens; t rows (1 or B, 1, dim).

        Returns (B, N, out_dim * prod(patch)) patch velocities, patch-position-major.
        """
        segments = []
        for tokens, row in t.segments():
            shift, scale = (self.modulation.to(row.dtype) + row).chunk(2, dim=1)
            segments.append((tokens, shift, scale))
        return self.head(modulate(self.norm(x), segments))

"""AudioProjModule: per-latent-frame audio tokens (Whisper ⊕ Wav2Vec2) -> DiT-width embeddings.

Module names follow the released checkpoint (keys under ``audio_embedding.``), which in turn
follow diffusers' ``Attention``, ``FeedForward`` (GEGLU) and ``SinusoidalPositionalEmbedding``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from xdub.model.attention import attention
from xdub.model.config import AudioProjConfig


class SinusoidalPositions(nn.Module):
    """Adds a fixed table ``pe`` (1, max_seq_len, dim): sin on even channels, cos on odd.

    ``pe`` is a persistent buffer because the released checkpoint stores it.
    """

    pe: Tensor

    def __init__(self, dim: int, max_seq_len: int) -> None:
        super().__init__()
        self.register_buffer("pe", torch.empty(1, max_seq_len, dim), persistent=True)
        self.reset()

    def reset(self) -> None:
        """(Re)compute ``pe`` in place on its device and dtype (e.g. after ``to_empty``)."""
        _, max_seq_len, dim = self.pe.shape
        device = self.pe.device
        position = torch.arange(max_seq_len, device=device).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, dim, 2, device=device) * (-math.log(10000.0) / dim))
        with torch.no_grad():
            self.pe[0, :, 0::2] = torch.sin(position * div_term)
            self.pe[0, :, 1::2] = torch.cos(position * div_term)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, seq, dim) -> x + pe[:, :seq]."""
        return x + self.pe[:, : x.shape[1]]


class SelfAttention(nn.Module):
    """Multi-head self-attention: q/k/v without bias, ``to_out.0`` with bias, no q/k norm."""

    def __init__(self, dim: int, num_heads: int, head_dim: int) -> None:
        super().__init__()
        inner = num_heads * head_dim
        self.num_heads = num_heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim)])

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, seq, dim) -> (N, seq, dim)."""
        n, seq, _ = x.shape
        q, k, v = (
            proj(x).view(n, seq, self.num_heads, -1) for proj in (self.to_q, self.to_k, self.to_v)
        )
        return self.to_out[0](attention(q, k, v).reshape(n, seq, -1))


class GEGLU(nn.Module):
    """``value * gelu(gate)`` (exact erf GELU) from one projection split into [value | gate]."""

    def __init__(self, dim: int, inner_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, 2 * inner_dim)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * F.gelu(gate)


class FeedForward(nn.Module):
    """GEGLU feed-forward; ``net`` indices match the checkpoint (index 1 was a p=0 dropout)."""

    def __init__(self, dim: int, mult: int) -> None:
        super().__init__()
        inner = dim * mult
        self.net = nn.Sequential(GEGLU(dim, inner), nn.Identity(), nn.Linear(inner, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class AudioProjLayer(nn.Module):
    """``x += attn(pos(norm1(x)))``, then ``x += ff(norm2(x))`` over one frame's tokens."""

    def __init__(self, config: AudioProjConfig) -> None:
        super().__init__()
        dim = config.intermediate_dim
        self.norm1 = nn.LayerNorm(dim, eps=config.eps)
        self.attn = SelfAttention(dim, config.num_heads, config.head_dim)
        self.norm2 = nn.LayerNorm(dim, eps=config.eps)
        self.ff = FeedForward(dim, config.ff_mult)
        self.pos_embed = SinusoidalPositions(dim, config.max_seq_len)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, tokens, intermediate_dim), N = batch * latent frames."""
        x = x + self.attn(self.pos_embed(self.norm1(x)))
        return x + self.ff(self.norm2(x))


class AudioProj(nn.Module):
    """The reference ``AudioProjModule``; the 8 tokens of a latent frame interact only together."""

    def __init__(self, config: AudioProjConfig) -> None:
        super().__init__()
        self.config = config
        self.proj_in = nn.Linear(config.in_dim, config.intermediate_dim)
        self.layers = nn.ModuleList(AudioProjLayer(config) for _ in range(config.num_layers))
        self.proj_out = nn.Linear(config.intermediate_dim, config.out_dim)

    def forward(self, audio_feats: Tensor) -> Tensor:
        """audio_feats: (B, F_lat, 8, in_dim), Whisper 1280 ⊕ Wav2Vec2 768 channels.

        Returns (B, F_lat, 8, out_dim) in the module's dtype.
        """
        b, f, tokens, _ = audio_feats.shape
        x = self.proj_in(audio_feats).reshape(b * f, tokens, -1)
        for layer in self.layers:
            x = layer(x)
        return self.proj_out(x).reshape(b, f, tokens, -1)

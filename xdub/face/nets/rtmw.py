"""RTMW whole-body pose model (mmpose ``TopdownPoseEstimator``: CSPNeXt + CSPNeXtPAFPN + RTMWHead).

``state_dict()`` keys equal mmpose's (``backbone.``/``neck.``/``head.``), so X-Dub's
``rtmw-x_simcc-cocktail14_pt-ucoco_270e-384x288-f840f204_20231122.pth`` loads strictly. The
network maps a normalised RGB crop to SimCC logits; crops, decoding and the flip test live in
``xdub.face.affine`` and ``xdub.face.pose``.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from xdub.face.nets.checkpoint import load_checkpoint
from xdub.face.nets.configs import RtmwConfig
from xdub.face.nets.cspnext import CSPNeXt
from xdub.face.nets.layers import BlockStyle, ConvBNAct
from xdub.face.nets.pafpn import PAFPN


class ScaleNorm(nn.Module):
    """``x / max(‖x‖₂ · dim^-½, eps) · g`` over the last axis, one learned scalar ``g``."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim**-0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        norm = torch.norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    """Per-channel learned scale of the residual branch."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


class GatedAttentionUnit(nn.Module):
    """mmpose ``RTMCCBlock`` (self-attention, SiLU, no bias, no rel-pos bias, no RoPE).

    Tokens ``(B, K, dims)`` → ``(B, K, dims)``: ``res_scale(x) + o(u ⊙ relu²(q kᵀ / √s) v)``,
    with ``u, v, base = split(silu(uv(ScaleNorm(x))))`` and ``q, k = base · gamma + beta``.
    """

    def __init__(self, dims: int, s: int, expansion_factor: int) -> None:
        super().__init__()
        self.e = int(dims * expansion_factor)
        self.s = s
        self.gamma = nn.Parameter(torch.rand((2, s)))
        self.beta = nn.Parameter(torch.rand((2, s)))
        self.o = nn.Linear(self.e, dims, bias=False)
        self.uv = nn.Linear(dims, 2 * self.e + s, bias=False)
        self.ln = ScaleNorm(dims)
        self.act_fn = nn.SiLU()
        self.res_scale = Scale(dims)
        self.sqrt_s = math.sqrt(s)

    def forward(self, x: Tensor) -> Tensor:
        uv = self.act_fn(self.uv(self.ln(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=2)
        q, k = torch.unbind(base.unsqueeze(2) * self.gamma[None, None, :] + self.beta, dim=2)
        kernel = torch.square(F.relu(torch.bmm(q, k.permute(0, 2, 1)) / self.sqrt_s))
        return self.res_scale(x) + self.o(u * torch.bmm(kernel, v))


class RtmwHead(nn.Module):
    """SimCC head over the last two neck levels (strides 16 and 32).

    ``forward((enc_b, enc_t))`` with ``enc_b (B, C/2, 2h, 2w)``, ``enc_t (B, C, h, w)`` returns
    ``(B, K, W·split)`` and ``(B, K, H·split)`` float logits (x and y).
    """

    def __init__(self, config: RtmwConfig) -> None:
        super().__init__()
        channels, keypoints = config.head_in_channels, config.num_keypoints
        kernel = config.final_layer_kernel_size
        relu_bn = BlockStyle(bn_eps=config.bn_eps, activation="relu")
        flatten_dims = config.in_featuremap_size[0] * config.in_featuremap_size[1]
        token_dims = config.gau_hidden_dims
        self.ps = nn.PixelShuffle(2)
        self.conv_dec = ConvBNAct(channels // 4, channels // 4, kernel, relu_bn)
        self.final_layer = ConvBNAct(channels, keypoints, kernel, relu_bn)
        self.final_layer2 = ConvBNAct(channels // 2 + channels // 4, keypoints, kernel, relu_bn)
        self.mlp = nn.Sequential(
            ScaleNorm(flatten_dims), nn.Linear(flatten_dims, token_dims // 2, bias=False)
        )
        self.mlp2 = nn.Sequential(
            ScaleNorm(flatten_dims * 4), nn.Linear(flatten_dims * 4, token_dims // 2, bias=False)
        )
        self.gau = GatedAttentionUnit(token_dims, config.gau_s, config.gau_expansion_factor)
        bins_x, bins_y = config.simcc_bins
        self.cls_x = nn.Linear(token_dims, bins_x, bias=False)
        self.cls_y = nn.Linear(token_dims, bins_y, bias=False)

    def forward(self, feats: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        enc_b, enc_t = feats
        # 1. Coarse level: per-keypoint maps flattened into tokens.
        tokens_t = self.mlp(torch.flatten(self.final_layer(enc_t), 2))
        # 2. Fine level: pixel-shuffled coarse features fused with the stride-16 map.
        fused = torch.cat([self.conv_dec(self.ps(enc_t)), enc_b], dim=1)
        tokens_b = self.mlp2(torch.flatten(self.final_layer2(fused), 2))
        # 3. Keypoint tokens through the GAU, then the two SimCC classifiers.
        tokens = self.gau(torch.cat([tokens_t, tokens_b], dim=2))
        return self.cls_x(tokens), self.cls_y(tokens)


class Rtmw(nn.Module):
    """The pose network. Input ``(B, 3, H, W)`` float32 normalised RGB crops, W×H = input_size."""

    def __init__(self, config: RtmwConfig | None = None) -> None:
        super().__init__()
        self.config = config or RtmwConfig()
        silu_bn = BlockStyle(bn_eps=self.config.bn_eps, activation="silu")
        self.backbone = CSPNeXt(
            self.config.deepen_factor,
            self.config.widen_factor,
            silu_bn,
            expand_ratio=self.config.expand_ratio,
            channel_attention=self.config.channel_attention,
        )
        self.neck = PAFPN(
            self.config.neck_in_channels,
            self.config.neck_num_csp_blocks,
            silu_bn,
            cspnext_block=True,
            out_channels=None,
            out_indices=self.config.neck_out_indices,
            expand_ratio=self.config.expand_ratio,
        )
        self.head = RtmwHead(self.config)

    def forward(self, crops: Tensor) -> tuple[Tensor, Tensor]:
        """SimCC logits ``(B, K, W·split)``, ``(B, K, H·split)``."""
        enc_b, enc_t = self.neck(self.backbone(crops))
        return self.head((enc_b, enc_t))

    @classmethod
    def from_checkpoint(cls, path: Path, config: RtmwConfig | None = None) -> Rtmw:
        """RTMW-x (or ``config``) with the weights of ``path`` (strict); CPU, eval mode."""
        with torch.device("meta"):
            model = cls(config)
        load_checkpoint(model, path)
        return model.eval()

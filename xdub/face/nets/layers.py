"""Conv/BN/activation blocks shared by YOLOX (CSPDarknet) and RTMW (CSPNeXt).

Module and parameter names follow mmcv/mmdet/mmpose exactly (``conv``, ``bn``, ``main_conv``,
``blocks``, ``depthwise_conv`` ...), so the released OpenMMLab checkpoints load without any key
mapping. All blocks take and return ``(B, C, H, W)`` float tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

ActivationName = Literal["swish", "silu", "relu"]


class Swish(nn.Module):
    """mmcv's ``Swish``: ``x * sigmoid(x)`` as two ops (nn.SiLU is one fused kernel)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(x)


def make_activation(name: ActivationName) -> nn.Module:
    if name == "swish":
        return Swish()
    if name == "silu":
        return nn.SiLU()
    if name == "relu":
        return nn.ReLU()
    raise ValueError(f"unknown activation {name!r}")


@dataclass(frozen=True)
class BlockStyle:
    """Norm and activation of a ``ConvModule`` family (mmcv ``norm_cfg``/``act_cfg``)."""

    bn_eps: float
    activation: ActivationName


class ConvBNAct(nn.Module):
    """mmcv ``ConvModule``: bias-free conv, BatchNorm, activation; 'same' padding ``k // 2``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        style: BlockStyle,
        *,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=False,
        )
        self.bn = nn.BatchNorm2d(out_channels, eps=style.bn_eps)
        self.act = make_activation(style.activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class DepthwiseSeparableConv(nn.Module):
    """mmcv ``DepthwiseSeparableConvModule``: depthwise k×k then pointwise 1×1, each with BN+act."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, style: BlockStyle
    ) -> None:
        super().__init__()
        self.depthwise_conv = ConvBNAct(
            in_channels, in_channels, kernel_size, style, groups=in_channels
        )
        self.pointwise_conv = ConvBNAct(in_channels, out_channels, 1, style)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class DarknetBottleneck(nn.Module):
    """YOLOX block: 1×1 then 3×3 conv, plus the input when ``add_identity`` (equal widths)."""

    def __init__(self, channels: int, add_identity: bool, style: BlockStyle) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 1, style)
        self.conv2 = ConvBNAct(channels, channels, 3, style)
        self.add_identity = add_identity

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPNeXtBlock(nn.Module):
    """RTMW block: 3×3 conv then a depthwise-separable 5×5, plus the input when ``add_identity``."""

    def __init__(self, channels: int, add_identity: bool, style: BlockStyle) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 3, style)
        self.conv2 = DepthwiseSeparableConv(channels, channels, 5, style)
        self.add_identity = add_identity

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class ChannelAttention(nn.Module):
    """Global average pool → 1×1 conv (with bias) → hard sigmoid, multiplied onto the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)
        self.act = nn.Hardsigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return x * self.act(self.fc(self.global_avgpool(x)))


class CSPLayer(nn.Module):
    """Cross-stage-partial layer: ``final_conv(cat(blocks(main_conv(x)), short_conv(x)))``.

    ``cspnext_block`` picks ``CSPNeXtBlock`` (RTMW) over ``DarknetBottleneck`` (YOLOX);
    ``channel_attention`` inserts ``ChannelAttention`` before ``final_conv``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_blocks: int,
        style: BlockStyle,
        *,
        add_identity: bool,
        cspnext_block: bool,
        expand_ratio: float = 0.5,
        channel_attention: bool = False,
    ) -> None:
        super().__init__()
        mid_channels = int(out_channels * expand_ratio)
        block = CSPNeXtBlock if cspnext_block else DarknetBottleneck
        self.main_conv = ConvBNAct(in_channels, mid_channels, 1, style)
        self.short_conv = ConvBNAct(in_channels, mid_channels, 1, style)
        self.final_conv = ConvBNAct(2 * mid_channels, out_channels, 1, style)
        self.blocks = nn.Sequential(
            *(block(mid_channels, add_identity, style) for _ in range(num_blocks))
        )
        self.attention = ChannelAttention(2 * mid_channels) if channel_attention else None

    def forward(self, x: Tensor) -> Tensor:
        merged = torch.cat((self.blocks(self.main_conv(x)), self.short_conv(x)), dim=1)
        if self.attention is not None:
            merged = self.attention(merged)
        return self.final_conv(merged)


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling: 1×1 halving conv, stride-1 max pools concatenated, 1×1 conv."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_sizes: Sequence[int], style: BlockStyle
    ) -> None:
        super().__init__()
        mid_channels = in_channels // 2
        self.conv1 = ConvBNAct(in_channels, mid_channels, 1, style)
        self.poolings = nn.ModuleList(
            nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2) for k in kernel_sizes
        )
        self.conv2 = ConvBNAct(mid_channels * (len(kernel_sizes) + 1), out_channels, 1, style)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x, *(pool(x) for pool in self.poolings)], dim=1))


@dataclass(frozen=True)
class StageSpec:
    """One backbone stage: a stride-2 3×3 conv, optional SPP, then a CSP layer."""

    in_channels: int
    out_channels: int
    num_blocks: int
    add_identity: bool
    use_spp: bool


def scaled_stages(
    arch: Sequence[tuple[int, int, int, bool, bool]], deepen_factor: float, widen_factor: float
) -> tuple[StageSpec, ...]:
    """OpenMMLab's scaling of an arch table: ``int(c * widen)``, ``max(round(n * deepen), 1)``."""
    return tuple(
        StageSpec(
            int(c_in * widen_factor),
            int(c_out * widen_factor),
            max(round(n * deepen_factor), 1),
            add_identity,
            use_spp,
        )
        for c_in, c_out, n, add_identity, use_spp in arch
    )


def run_stages(stem: nn.Module, stages: Sequence[nn.Module], x: Tensor) -> tuple[Tensor, ...]:
    """Stem then stages in turn; the outputs of the last three stages (strides 8/16/32 for P5)."""
    x = stem(x)
    outs = []
    for stage in stages:
        x = stage(x)
        outs.append(x)
    return tuple(outs[-3:])


def backbone_stage(
    spec: StageSpec,
    style: BlockStyle,
    *,
    cspnext_block: bool,
    channel_attention: bool,
    spp_kernel_sizes: Sequence[int],
    expand_ratio: float = 0.5,
) -> nn.Sequential:
    """A CSPDarknet/CSPNeXt stage: stride-2 conv, [SPP], CSP layer; ``(B, C_out, H/2, W/2)``."""
    layers: list[nn.Module] = [ConvBNAct(spec.in_channels, spec.out_channels, 3, style, stride=2)]
    if spec.use_spp:
        layers.append(SPPBottleneck(spec.out_channels, spec.out_channels, spp_kernel_sizes, style))
    layers.append(
        CSPLayer(
            spec.out_channels,
            spec.out_channels,
            spec.num_blocks,
            style,
            add_identity=spec.add_identity,
            cspnext_block=cspnext_block,
            expand_ratio=expand_ratio,
            channel_attention=channel_attention,
        )
    )
    return nn.Sequential(*layers)

"""Path-aggregation FPN neck of YOLOX (``YOLOXPAFPN``) and RTMW (``CSPNeXtPAFPN``).

Both necks share the same top-down / bottom-up topology and key names; they differ in the CSP
block type, the optional 1×1 output convs (YOLOX only) and which levels are returned.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from xdub.face.nets.layers import BlockStyle, ConvBNAct, CSPLayer


class PAFPN(nn.Module):
    """Neck over backbone levels ``in_channels`` (fine → coarse, each half the resolution).

    ``forward`` takes one ``(B, in_channels[i], H_i, W_i)`` map per level and returns the maps
    named by ``out_indices``: ``out_channels`` wide after the 1×1 out convs when given, otherwise
    ``in_channels[i]`` wide.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_csp_blocks: int,
        style: BlockStyle,
        *,
        cspnext_block: bool,
        out_channels: int | None,
        out_indices: Sequence[int],
        expand_ratio: float = 0.5,
    ) -> None:
        super().__init__()
        self.in_channels = tuple(in_channels)
        self.out_indices = tuple(out_indices)
        levels = len(in_channels)

        def csp(c_in: int, c_out: int) -> CSPLayer:
            return CSPLayer(
                c_in,
                c_out,
                num_csp_blocks,
                style,
                add_identity=False,
                cspnext_block=cspnext_block,
                expand_ratio=expand_ratio,
            )

        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.reduce_layers = nn.ModuleList()
        self.top_down_blocks = nn.ModuleList()
        for idx in range(levels - 1, 0, -1):
            self.reduce_layers.append(ConvBNAct(in_channels[idx], in_channels[idx - 1], 1, style))
            self.top_down_blocks.append(csp(in_channels[idx - 1] * 2, in_channels[idx - 1]))
        self.downsamples = nn.ModuleList()
        self.bottom_up_blocks = nn.ModuleList()
        for idx in range(levels - 1):
            self.downsamples.append(
                ConvBNAct(in_channels[idx], in_channels[idx], 3, style, stride=2)
            )
            self.bottom_up_blocks.append(csp(in_channels[idx] * 2, in_channels[idx + 1]))
        self.out_convs = (
            nn.ModuleList(ConvBNAct(c, out_channels, 1, style) for c in in_channels)
            if out_channels is not None
            else None
        )

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        levels = len(self.in_channels)
        # 1. Top-down: reduce the coarse map, upsample, fuse with the next finer level.
        inner_outs = [inputs[-1]]
        for step, idx in enumerate(range(levels - 1, 0, -1)):
            coarse = self.reduce_layers[step](inner_outs[0])
            inner_outs[0] = coarse
            fused = self.top_down_blocks[step](
                torch.cat([self.upsample(coarse), inputs[idx - 1]], dim=1)
            )
            inner_outs.insert(0, fused)
        # 2. Bottom-up: downsample the finer output, fuse with the top-down map of that level.
        outs = [inner_outs[0]]
        for idx in range(levels - 1):
            down = self.downsamples[idx](outs[-1])
            outs.append(self.bottom_up_blocks[idx](torch.cat([down, inner_outs[idx + 1]], dim=1)))
        # 3. Optional per-level 1×1 output convs.
        if self.out_convs is not None:
            outs = [conv(out) for conv, out in zip(self.out_convs, outs, strict=True)]
        return tuple(outs[i] for i in self.out_indices)

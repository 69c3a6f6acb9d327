"""CSPNeXt backbone of RTMW (mmpose ``CSPNeXt``, arch P5, channel attention), plain PyTorch."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from xdub.face.nets.layers import BlockStyle, ConvBNAct, backbone_stage, run_stages, scaled_stages

CSPNEXT_P5 = (
    (64, 128, 3, True, False),
    (128, 256, 6, True, False),
    (256, 512, 6, True, False),
    (512, 1024, 3, False, True),
)
"""mmpose CSPNeXt 'P5' arch: (in, out, blocks, add_identity, use_spp) per stage."""


class CSPNeXt(nn.Module):
    """Stem of three 3×3 convs (stride 2, 1, 1), then four stride-2 stages.

    ``forward`` returns stages 2, 3, 4 at strides 8/16/32, ``int((256, 512, 1024) * widen)`` wide;
    the stem width is ``int(64 * widen // 2)`` then ``int(64 * widen)``, as mmpose computes it.
    """

    def __init__(
        self,
        deepen_factor: float,
        widen_factor: float,
        style: BlockStyle,
        *,
        expand_ratio: float = 0.5,
        channel_attention: bool = True,
        spp_kernel_sizes: Sequence[int] = (5, 9, 13),
    ) -> None:
        super().__init__()
        stem_mid = int(CSPNEXT_P5[0][0] * widen_factor // 2)
        stem_out = int(CSPNEXT_P5[0][0] * widen_factor)
        self.stem = nn.Sequential(
            ConvBNAct(3, stem_mid, 3, style, stride=2),
            ConvBNAct(stem_mid, stem_mid, 3, style),
            ConvBNAct(stem_mid, stem_out, 3, style),
        )
        specs = scaled_stages(CSPNEXT_P5, deepen_factor, widen_factor)
        for i, spec in enumerate(specs, start=1):
            stage = backbone_stage(
                spec,
                style,
                cspnext_block=True,
                channel_attention=channel_attention,
                spp_kernel_sizes=spp_kernel_sizes,
                expand_ratio=expand_ratio,
            )
            self.add_module(f"stage{i}", stage)
        self.num_stages = len(specs)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        stages = [getattr(self, f"stage{i}") for i in range(1, self.num_stages + 1)]
        return run_stages(self.stem, stages, x)

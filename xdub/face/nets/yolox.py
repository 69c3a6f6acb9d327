"""YOLOX person detector (mmdet ``YOLOX``: CSPDarknet + YOLOXPAFPN + YOLOXHead) in plain PyTorch.

``state_dict()`` keys equal mmdet's (``backbone.``/``neck.``/``bbox_head.``), so X-Dub's
``yolox_l_8x8_300e_coco_20211126_140236-d3bd2b23.pth`` loads strictly. Pre/post-processing
lives in ``xdub.face.detect``.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor, nn

from xdub.face.nets.checkpoint import load_checkpoint
from xdub.face.nets.configs import YoloxConfig
from xdub.face.nets.layers import BlockStyle, ConvBNAct, backbone_stage, run_stages, scaled_stages
from xdub.face.nets.pafpn import PAFPN

CSP_DARKNET_P5 = (
    (64, 128, 3, True, False),
    (128, 256, 9, True, False),
    (256, 512, 9, True, False),
    (512, 1024, 3, False, True),
)
"""mmdet CSPDarknet 'P5' arch: (in, out, blocks, add_identity, use_spp) per stage."""


def _block_style(config: YoloxConfig) -> BlockStyle:
    """Conv/BN/Swish blocks with the config's BatchNorm epsilon."""
    return BlockStyle(bn_eps=config.bn_eps, activation="swish")


class Focus(nn.Module):
    """Space-to-depth stem: 2×2 pixel blocks to channels (TL, BL, TR, BR), then a 3×3 conv."""

    def __init__(self, out_channels: int, style: BlockStyle) -> None:
        super().__init__()
        self.conv = ConvBNAct(3 * 4, out_channels, 3, style)

    def forward(self, x: Tensor) -> Tensor:
        tl, tr = x[..., ::2, ::2], x[..., ::2, 1::2]
        bl, br = x[..., 1::2, ::2], x[..., 1::2, 1::2]
        return self.conv(torch.cat((tl, bl, tr, br), dim=1))


class CSPDarknet(nn.Module):
    """Backbone; returns stages 2, 3, 4: strides 8/16/32, ``int((256, 512, 1024) * widen)`` wide."""

    def __init__(self, config: YoloxConfig) -> None:
        super().__init__()
        style = _block_style(config)
        specs = scaled_stages(CSP_DARKNET_P5, config.deepen_factor, config.widen_factor)
        self.stem = Focus(specs[0].in_channels, style)
        for i, spec in enumerate(specs, start=1):
            stage = backbone_stage(
                spec,
                style,
                cspnext_block=False,
                channel_attention=False,
                spp_kernel_sizes=config.spp_kernel_sizes,
            )
            self.add_module(f"stage{i}", stage)
        self.num_stages = len(specs)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        stages = [getattr(self, f"stage{i}") for i in range(1, self.num_stages + 1)]
        return run_stages(self.stem, stages, x)


class YoloxHead(nn.Module):
    """Decoupled head per level: stacked 3×3 convs into class logits, box deltas, objectness."""

    def __init__(self, config: YoloxConfig) -> None:
        super().__init__()
        style = _block_style(config)

        def stacked() -> nn.Sequential:
            widths = [config.head_in_channels] + [config.head_feat_channels] * config.stacked_convs
            return nn.Sequential(
                *(ConvBNAct(a, b, 3, style) for a, b in zip(widths[:-1], widths[1:], strict=True))
            )

        feat = config.head_feat_channels
        levels = range(len(config.strides))
        self.multi_level_cls_convs = nn.ModuleList(stacked() for _ in levels)
        self.multi_level_reg_convs = nn.ModuleList(stacked() for _ in levels)
        self.multi_level_conv_cls = nn.ModuleList(
            nn.Conv2d(feat, config.num_classes, 1) for _ in levels
        )
        self.multi_level_conv_reg = nn.ModuleList(nn.Conv2d(feat, 4, 1) for _ in levels)
        self.multi_level_conv_obj = nn.ModuleList(nn.Conv2d(feat, 1, 1) for _ in levels)

    def forward(self, feats: tuple[Tensor, ...]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Per level: class logits ``(B, num_classes, H, W)``, box deltas ``(B, 4, H, W)``
        (dx, dy, log w, log h) and objectness logits ``(B, 1, H, W)``."""
        cls_out, reg_out, obj_out = [], [], []
        for i, x in enumerate(feats):
            cls_feat = self.multi_level_cls_convs[i](x)
            reg_feat = self.multi_level_reg_convs[i](x)
            cls_out.append(self.multi_level_conv_cls[i](cls_feat))
            reg_out.append(self.multi_level_conv_reg[i](reg_feat))
            obj_out.append(self.multi_level_conv_obj[i](reg_feat))
        return cls_out, reg_out, obj_out


class Yolox(nn.Module):
    """The detector. Input ``(B, 3, 640, 640)`` float32, **BGR 0…255**, not normalised."""

    def __init__(self, config: YoloxConfig | None = None) -> None:
        super().__init__()
        self.config = config or YoloxConfig()
        self.backbone = CSPDarknet(self.config)
        self.neck = PAFPN(
            self.config.neck_in_channels,
            self.config.neck_num_csp_blocks,
            _block_style(self.config),
            cspnext_block=False,
            out_channels=self.config.neck_out_channels,
            out_indices=range(len(self.config.neck_in_channels)),
        )
        self.bbox_head = YoloxHead(self.config)

    def forward(self, images: Tensor) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Raw head outputs per level (see ``YoloxHead.forward``)."""
        return self.bbox_head(self.neck(self.backbone(images)))

    def init_score_priors(self, prior_prob: float = 0.01) -> Yolox:
        """Set the class and objectness biases as mmdet's YOLOX init does (``prior_prob``), so a
        freshly initialised detector reports few candidates; returns ``self``."""
        bias = -math.log((1 - prior_prob) / prior_prob)
        with torch.no_grad():
            head = self.bbox_head
            for conv in [*head.multi_level_conv_cls, *head.multi_level_conv_obj]:
                conv.bias.fill_(bias)
        return self

    @classmethod
    def from_checkpoint(cls, path: Path, config: YoloxConfig | None = None) -> Yolox:
        """YOLOX-L (or ``config``) with the weights of ``path`` (strict); CPU, eval mode."""
        with torch.device("meta"):
            model = cls(config)
        load_checkpoint(model, path)
        return model.eval()

"""Configs of the pose networks, without torch: YOLOX (mmdet) and RTMW (mmpose).

The model folder reads them from ``xdub-model.json``; ``xdub.face.nets.yolox`` and
``xdub.face.nets.rtmw`` build the networks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xdub.errors import ModelError

FACE_BACKENDS = ("builtin", "openmmlab")
"""The landmark backends (``xdub.face.backends.load_wholebody``): plain PyTorch, or mmdet +
mmpose where OpenMMLab is installed. Both build the networks these configs describe."""


@dataclass(frozen=True)
class YoloxConfig:
    """Network and test-time settings; the defaults are X-Dub's YOLOX-L COCO model."""

    deepen_factor: float = 1.0
    widen_factor: float = 1.0
    neck_in_channels: tuple[int, ...] = (256, 512, 1024)
    neck_out_channels: int = 256
    neck_num_csp_blocks: int = 3
    head_in_channels: int = 256
    head_feat_channels: int = 256
    stacked_convs: int = 2
    num_classes: int = 80
    strides: tuple[int, ...] = (8, 16, 32)
    spp_kernel_sizes: tuple[int, ...] = (5, 9, 13)
    bn_eps: float = 1e-3
    score_thr: float = 0.01
    nms_iou_thr: float = 0.65

    @classmethod
    def from_mmdet(cls, model: Mapping[str, Any]) -> YoloxConfig:
        """From a resolved mmdet ``model`` config dict (e.g. ``reduced_config.json['yolox']``)."""
        try:
            backbone, neck, head = model["backbone"], model["neck"], model["bbox_head"]
            unsupported = [
                name
                for name, part in (("backbone", backbone), ("neck", neck), ("head", head))
                if part.get("use_depthwise", False)
            ]
            if backbone.get("arch", "P5") != "P5" or unsupported:
                raise ModelError(f"unsupported YOLOX variant (arch/depthwise: {unsupported})")
            return cls(
                deepen_factor=float(backbone["deepen_factor"]),
                widen_factor=float(backbone["widen_factor"]),
                neck_in_channels=tuple(int(c) for c in neck["in_channels"]),
                neck_out_channels=int(neck["out_channels"]),
                neck_num_csp_blocks=int(neck["num_csp_blocks"]),
                head_in_channels=int(head["in_channels"]),
                head_feat_channels=int(head["feat_channels"]),
                stacked_convs=int(head["stacked_convs"]),
                num_classes=int(head["num_classes"]),
                strides=tuple(int(s) for s in head["strides"]),
                spp_kernel_sizes=tuple(int(k) for k in backbone["spp_kernal_sizes"]),
                bn_eps=float(backbone["norm_cfg"]["eps"]),
                score_thr=float(model["test_cfg"]["score_thr"]),
                nms_iou_thr=float(model["test_cfg"]["nms"]["iou_threshold"]),
            )
        except (KeyError, TypeError) as exc:
            raise ModelError(f"incomplete mmdet YOLOX config: missing {exc}") from exc


@dataclass(frozen=True)
class RtmwConfig:
    """Network, codec and test-time settings; the defaults are X-Dub's RTMW-x (cocktail14)."""

    deepen_factor: float = 1.33
    widen_factor: float = 1.25
    expand_ratio: float = 0.5
    channel_attention: bool = True
    neck_in_channels: tuple[int, ...] = (320, 640, 1280)
    neck_num_csp_blocks: int = 2
    neck_out_indices: tuple[int, ...] = (1, 2)
    head_in_channels: int = 1280
    num_keypoints: int = 133
    input_size: tuple[int, int] = (288, 384)
    """Network input (width, height) in pixels."""
    in_featuremap_size: tuple[int, int] = (9, 12)
    simcc_split_ratio: float = 2.0
    final_layer_kernel_size: int = 7
    gau_hidden_dims: int = 256
    gau_s: int = 128
    gau_expansion_factor: int = 2
    bn_eps: float = 1e-5
    mean_rgb: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std_rgb: tuple[float, float, float] = (58.395, 57.12, 57.375)
    sigma: tuple[float, float] = (6.0, 6.93)
    decode_beta: float = 150.0
    flip_test: bool = True

    @classmethod
    def from_mmpose(cls, model: Mapping[str, Any]) -> RtmwConfig:
        """From a resolved mmpose ``model`` dict (e.g. ``reduced_config.json['rtmw']``)."""
        try:
            backbone, neck, head = model["backbone"], model["neck"], model["head"]
            gau, codec = head["gau_cfg"], head["decoder"]
            preprocessor = model["data_preprocessor"]
            unsupported = {
                "backbone arch": backbone.get("arch", "P5") != "P5",
                "depthwise": backbone.get("use_depthwise", False),
                "neck out_channels": neck.get("out_channels") is not None,
                "GAU rel bias / pos enc": gau["use_rel_bias"] or gau["pos_enc"],
                "DARK decoding": codec.get("use_dark", False),
                "RGB input order": not preprocessor.get("bgr_to_rgb", False),
            }
            if any(unsupported.values()):
                names = [name for name, bad in unsupported.items() if bad]
                raise ModelError(f"unsupported RTMW variant: {', '.join(names)}")
            return cls(
                deepen_factor=float(backbone["deepen_factor"]),
                widen_factor=float(backbone["widen_factor"]),
                expand_ratio=float(backbone["expand_ratio"]),
                channel_attention=bool(backbone["channel_attention"]),
                neck_in_channels=tuple(int(c) for c in neck["in_channels"]),
                neck_num_csp_blocks=int(neck["num_csp_blocks"]),
                neck_out_indices=tuple(int(i) for i in neck["out_indices"]),
                head_in_channels=int(head["in_channels"]),
                num_keypoints=int(head["out_channels"]),
                input_size=(int(head["input_size"][0]), int(head["input_size"][1])),
                in_featuremap_size=(
                    int(head["in_featuremap_size"][0]),
                    int(head["in_featuremap_size"][1]),
                ),
                simcc_split_ratio=float(head["simcc_split_ratio"]),
                final_layer_kernel_size=int(head["final_layer_kernel_size"]),
                gau_hidden_dims=int(gau["hidden_dims"]),
                gau_s=int(gau["s"]),
                gau_expansion_factor=int(gau["expansion_factor"]),
                mean_rgb=_triple(preprocessor["mean"]),
                std_rgb=_triple(preprocessor["std"]),
                sigma=(float(codec["sigma"][0]), float(codec["sigma"][1])),
                decode_beta=float(codec.get("decode_beta", 150.0)),
                flip_test=bool(model.get("test_cfg", {}).get("flip_test", False)),
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise ModelError(f"incomplete mmpose RTMW config: missing {exc}") from exc

    @property
    def simcc_bins(self) -> tuple[int, int]:
        """SimCC vector lengths (x, y): ``int(input_size * split_ratio)``."""
        return (
            int(self.input_size[0] * self.simcc_split_ratio),
            int(self.input_size[1] * self.simcc_split_ratio),
        )


def _triple(values: Any) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in values)
    return a, b, c

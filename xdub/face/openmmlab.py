"""The optional OpenMMLab landmark backend: X-Dub's ``Wholebody`` on the real mmdet + mmpose.

The networks, the YOLOX pre/post-processing and the top-down crop/flip-test/SimCC decode are
OpenMMLab's own (``init_detector``/``inference_detector``, ``init_model``/``inference_topdown``,
one frame per forward, as X-Dub calls them); X-Dub's person choice and the 134-point assembly
are shared with the built-in backend (``xdub.face.wholebody``). The configs are the ones mmdet
and mmpose ship (the same model sections as X-Dub's ``dwpose_tools/models/*.py``), or any
config file. OpenMMLab is imported only when a backend is built: without it, a
``ModelError(code="backend_unavailable")`` says how to install it.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import nn

from xdub.errors import ModelError
from xdub.face.detect import Detections
from xdub.face.nets.checkpoint import load_strict, read_state_dict
from xdub.face.nets.configs import RtmwConfig, YoloxConfig
from xdub.face.pose import PoseKeypoints
from xdub.face.wholebody import WholebodyBackend

DETECTOR_CONFIG = "yolox/yolox_l_8xb8-300e_coco.py"
"""mmdet's packaged YOLOX-L config (under ``mmdet/.mim/configs``)."""
POSE_CONFIG = "wholebody_2d_keypoint/rtmpose/cocktail14/rtmw-x_8xb320-270e_cocktail14-384x288.py"
"""mmpose's packaged RTMW-x config (under ``mmpose/.mim/configs``)."""

INSTALL_HINT = (
    "install OpenMMLab into xdub's environment: `pip install mmengine`, mmcv 2.1 (built from "
    "source with MMCV_WITH_OPS=1; see docs/models.md), then `pip install mmdet==3.3.0 "
    "mmpose==1.3.2`; or use the built-in backend, which gives the same landmarks"
)

_YOLOX_FIELDS = {
    "deepen_factor": "backbone.deepen_factor",
    "widen_factor": "backbone.widen_factor",
    "neck_in_channels": "neck.in_channels",
    "neck_out_channels": "neck.out_channels",
    "neck_num_csp_blocks": "neck.num_csp_blocks",
    "head_in_channels": "bbox_head.in_channels",
    "head_feat_channels": "bbox_head.feat_channels",
    "stacked_convs": "bbox_head.stacked_convs",
    "score_thr": "test_cfg.score_thr",
    "nms_iou_thr": "test_cfg.nms.iou_threshold",
}
"""``YoloxConfig`` fields written over the mmdet ``model`` section; the others must agree."""

_RTMW_FIELDS = {
    "deepen_factor": "backbone.deepen_factor",
    "widen_factor": "backbone.widen_factor",
    "channel_attention": "backbone.channel_attention",
    "neck_in_channels": "neck.in_channels",
    "neck_num_csp_blocks": "neck.num_csp_blocks",
    "neck_out_indices": "neck.out_indices",
    "head_in_channels": "head.in_channels",
    "final_layer_kernel_size": "head.final_layer_kernel_size",
    "gau_hidden_dims": "head.gau_cfg.hidden_dims",
    "gau_s": "head.gau_cfg.s",
    "gau_expansion_factor": "head.gau_cfg.expansion_factor",
    "flip_test": "test_cfg.flip_test",
}
"""``RtmwConfig`` fields written over the mmpose ``model`` section; the others (input size,
codec, normalisation) live in the pipeline too, so they must agree with the config file."""


def _import(module: str) -> ModuleType:
    """Import an OpenMMLab module, or raise ``ModelError(code="backend_unavailable")``.

    Its import-time warnings (moved mmcv names, deprecations) say nothing a user can act on,
    so they are silenced here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except ImportError as exc:  # a missing package, or mmcv built without its ops
        raise ModelError(
            f"the OpenMMLab face backend needs mmdet and mmpose ({module}: {exc})",
            code="backend_unavailable",
            hint=INSTALL_HINT,
        ) from exc


def packaged_config(package: str, relative: str) -> Path:
    """The config file ``relative`` that ``package`` (``mmdet``/``mmpose``) ships in ``.mim``."""
    root = Path(str(_import(package).__file__)).parent / ".mim" / "configs"
    path = root / relative
    if not path.is_file():
        raise ModelError(
            f"{package} does not ship the config {relative} (looked in {root})",
            code="backend_unavailable",
            hint="install mmdet 3.3 and mmpose 1.3 from PyPI (wheels include their configs)",
        )
    return path


def _as_plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def model_overrides(config: YoloxConfig | RtmwConfig) -> dict[str, Any]:
    """``Config.merge_from_dict`` options that give the config file ``config``'s network."""
    table = _YOLOX_FIELDS if isinstance(config, YoloxConfig) else _RTMW_FIELDS
    return {f"model.{key}": _as_plain(getattr(config, name)) for name, key in table.items()}


def _check_round_trip(config: YoloxConfig | RtmwConfig, model: Mapping[str, Any]) -> None:
    """Refuse a config whose fields the merged ``model`` section does not reproduce."""
    kind = type(config)
    built = (
        YoloxConfig.from_mmdet(model)
        if isinstance(config, YoloxConfig)
        else RtmwConfig.from_mmpose(model)
    )
    differ = [
        f"{f.name}: {getattr(config, f.name)!r} (config file: {getattr(built, f.name)!r})"
        for f in fields(kind)
        if getattr(built, f.name) != getattr(config, f.name)
    ]
    if differ:
        raise ModelError(
            f"the OpenMMLab config cannot express this {kind.__name__}: " + "; ".join(differ),
            hint="pass a config file with these settings instead",
        )


def load_config(
    source: YoloxConfig | RtmwConfig | str | Path | None, kind: Literal["detector", "pose"]
) -> Any:
    """An mmengine ``Config`` for ``kind`` (``"detector"``/``"pose"``).

    ``source``: a config file; a ``YoloxConfig``/``RtmwConfig``, whose network is written over
    the packaged config (as the reduced test models and ``xdub-model.json`` describe them);
    None for the packaged full-size config.
    """
    config_module = _import("mmengine.config")
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise ModelError(f"{kind} config not found: {path}", code="model_missing")
        return config_module.Config.fromfile(str(path))
    package, relative = (
        ("mmdet", DETECTOR_CONFIG) if kind == "detector" else ("mmpose", POSE_CONFIG)
    )
    config = config_module.Config.fromfile(str(packaged_config(package, relative)))
    if source is not None:
        config.merge_from_dict(model_overrides(source))
        _check_round_trip(source, config.model.to_dict())
    return config


def check_opencv() -> None:
    """Warn when OpenCV ≥ 5 is installed: its ``warpAffine`` (mmpose's crop) differs from the
    4.x that X-Dub pins, so the landmarks would not be X-Dub's (pose README §5)."""
    version = str(_import("cv2").__version__)
    if int(version.split(".")[0]) >= 5:
        warnings.warn(
            f"OpenCV {version}: mmpose crops with cv2.warpAffine, which differs from OpenCV 4.x "
            "(X-Dub pins 4.13), so these landmarks differ from X-Dub's and the builtin "
            "backend's; install opencv-python-headless<5 for identical ones",
            UserWarning,
            stacklevel=3,
        )


def _load_weights(model: nn.Module, path: Path, device: torch.device | str) -> nn.Module:
    """Strictly load ``path`` (``.pth``/``.safetensors``, weights only) and move to ``device``."""
    load_strict(model, read_state_dict(Path(path)), str(path))
    return model.to(device).eval()


_EXPECTED_NOTICES = ("checkpoint is None", "The metainfo config file")
"""What ``init_detector``/``init_model`` say when built without weights (xdub loads them) and
when mmpose finds its packaged dataset meta file."""


def _quiet_init(build: Any, config: Any) -> Any:
    """An OpenMMLab ``init_*`` on the CPU without weights, minus its expected notices.

    It calls ``warnings.simplefilter('once')``: recording keeps that from leaking, and any
    other warning is passed on.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = build(config, checkpoint=None, device="cpu")
    for notice in caught:
        if not str(notice.message).startswith(_EXPECTED_NOTICES):
            warnings.warn_explicit(notice.message, notice.category, notice.filename, notice.lineno)
    return model


class OpenMMLabWholebody(WholebodyBackend):
    """mmdet YOLOX + mmpose RTMW, as X-Dub's ``Wholebody`` builds and calls them.

    ``detector`` comes from ``mmdet.apis.init_detector`` (its ``cfg`` adapted to the ``mmdet``
    scope, as X-Dub does), ``pose`` from ``mmpose.apis.init_model``. Frames are run one at a
    time (``batch_size`` only bounds how many are held), which is X-Dub's behaviour.
    """

    def __init__(self, detector: nn.Module, pose: nn.Module) -> None:
        self.detector = detector.eval()
        self.pose = pose.eval()
        self.num_keypoints = int(cast(Mapping[str, Any], pose.dataset_meta)["num_keypoints"])

    @classmethod
    def from_checkpoints(
        cls,
        detector_path: Path,
        pose_path: Path,
        *,
        device: torch.device | str = "cpu",
        detector_config: YoloxConfig | str | Path | None = None,
        pose_config: RtmwConfig | str | Path | None = None,
    ) -> OpenMMLabWholebody:
        """Build both models from their configs and load the checkpoints strictly onto ``device``.

        The weights are read with xdub's weights-only reader (no pickle code runs; ``ema_*``
        copies and ``meta`` are ignored), not mmengine's ``torch.load``.
        """
        mmdet_apis, mmpose_apis = _import("mmdet.apis"), _import("mmpose.apis")
        check_opencv()
        adapt = _import("mmpose.utils").adapt_mmdet_pipeline
        detector = _quiet_init(mmdet_apis.init_detector, load_config(detector_config, "detector"))
        detector.cfg = adapt(detector.cfg)
        pose = _quiet_init(mmpose_apis.init_model, load_config(pose_config, "pose"))
        return cls(
            _load_weights(detector, detector_path, device), _load_weights(pose, pose_path, device)
        )

    @property
    def networks(self) -> tuple[nn.Module, ...]:
        return (self.detector, self.pose)

    def detect(self, frames_bgr: Sequence[np.ndarray], batch_size: int = 8) -> list[Detections]:
        """``inference_detector`` per frame (so ``batch_size`` is not used); mmdet does not
        report which prior a box came from, so ``prior_index`` is −1."""
        inference_detector = _import("mmdet.apis").inference_detector
        out = []
        for frame in frames_bgr:
            found = inference_detector(self.detector, frame).pred_instances.cpu().numpy()
            out.append(
                Detections(
                    found.bboxes.astype(np.float32),
                    found.scores.astype(np.float32),
                    found.labels.astype(np.int64),
                    np.full(len(found.labels), -1, dtype=np.int64),
                )
            )
        return out

    def estimate(
        self,
        frames_bgr: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray | None],
        batch_size: int = 8,
    ) -> PoseKeypoints:
        """``inference_topdown`` per frame on its box (None: the whole frame, as mmpose does);
        one frame per forward, so ``batch_size`` is not used."""
        if len(frames_bgr) != len(boxes):
            raise ValueError(f"{len(frames_bgr)} frames but {len(boxes)} boxes")
        inference_topdown = _import("mmpose.apis").inference_topdown
        merge_data_samples = _import("mmpose.structures").merge_data_samples
        count, k = len(frames_bgr), self.num_keypoints
        keypoints = np.zeros((count, k, 2), np.float32)
        scores, visible = np.zeros((count, k), np.float32), np.zeros((count, k), np.float32)
        for i, (frame, box) in enumerate(zip(frames_bgr, boxes, strict=True)):
            bboxes = None if box is None else np.asarray(box, dtype=np.float32).reshape(1, 4)
            preds = merge_data_samples(inference_topdown(self.pose, frame, bboxes)).pred_instances
            keypoints[i] = preds.get("transformed_keypoints", preds.keypoints)[0]
            scores[i], visible[i] = preds.keypoint_scores[0], preds.keypoints_visible[0]
        return PoseKeypoints(keypoints, scores, visible)

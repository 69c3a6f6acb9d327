"""Choosing the landmark backend: built-in plain PyTorch, or OpenMMLab (mmdet + mmpose).

Both load the same two checkpoints (YOLOX-L and RTMW-x ``.pth``, or ``.safetensors``) and give
the same landmarks (``WholebodyBackend``); OpenMMLab is optional and never needed by xdub.
"""

from __future__ import annotations

from pathlib import Path

import torch

from xdub.errors import ModelError
from xdub.face.nets.configs import FACE_BACKENDS, RtmwConfig, YoloxConfig
from xdub.face.openmmlab import OpenMMLabWholebody
from xdub.face.wholebody import WholebodyBackend, WholebodyEstimator

__all__ = ["FACE_BACKENDS", "load_wholebody"]


def load_wholebody(
    yolox_path: Path,
    rtmw_path: Path,
    *,
    backend: str = "builtin",
    device: torch.device | str = "cpu",
    detector_config: YoloxConfig | str | Path | None = None,
    pose_config: RtmwConfig | str | Path | None = None,
) -> WholebodyBackend:
    """The detector + pose estimator of ``backend``, weights loaded strictly onto ``device``.

    Configs: None for X-Dub's YOLOX-L / RTMW-x; a ``YoloxConfig``/``RtmwConfig`` (e.g. from
    ``xdub-model.json``) for other sizes; an mmdet/mmpose config file (``openmmlab`` only).
    """
    if backend == "builtin":
        if isinstance(detector_config, str | Path) or isinstance(pose_config, str | Path):
            raise ModelError(
                "the builtin face backend takes YoloxConfig/RtmwConfig, not config files",
                hint="use backend='openmmlab' for mmdet/mmpose config files",
            )
        return WholebodyEstimator.from_checkpoints(
            yolox_path,
            rtmw_path,
            device=device,
            detector_config=detector_config,
            pose_config=pose_config,
        )
    if backend == "openmmlab":
        return OpenMMLabWholebody.from_checkpoints(
            yolox_path,
            rtmw_path,
            device=device,
            detector_config=detector_config,
            pose_config=pose_config,
        )
    raise ModelError(
        f"unknown face backend {backend!r}",
        code="unknown_backend",
        hint=f"choose one of {', '.join(FACE_BACKENDS)}",
    )

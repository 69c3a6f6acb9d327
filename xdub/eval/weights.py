"""The metric networks' weights: found on disk, never downloaded.

They are not part of the X-Dub bundle. A user who has them puts them in the model folder's
``eval/`` directory (or passes the file): SyncNet as ``syncnet_v2.model`` (``syncnet_python``'s
release) and ArcFace as ``arcface_iresnet100.pth`` (insightface ``arcface_torch``), or either as
``.safetensors``. A ``<file>.json`` beside a file holds a non-released config (the tiny test
weights' ``SyncNetConfig``/``IResNetConfig`` fields). Loading goes through the project's
weights reader (``xdub.face.nets.checkpoint``: weights-only ``torch.load`` or safetensors, strict
keys and shapes, clear ``ModelError``s).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import save_file
from torch import nn

from xdub.errors import ModelError
from xdub.eval.identity import IResNet, IResNetConfig
from xdub.eval.syncnet import SyncNet, SyncNetConfig
from xdub.face.backends import load_wholebody
from xdub.face.nets.checkpoint import load_checkpoint
from xdub.face.wholebody import WholebodyBackend
from xdub.weights.folder import ModelFolder

EVAL_DIR = "eval"
SYNCNET_FILES = ("syncnet_v2.model", "syncnet.safetensors")
ARCFACE_FILES = ("arcface_iresnet100.pth", "arcface.safetensors")

C = TypeVar("C")


def find_weights(model_dir: Path | None, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` present in ``model_dir/eval/`` (None: the user has none)."""
    if model_dir is None:
        return None
    for name in names:
        path = Path(model_dir) / EVAL_DIR / name
        if path.is_file():
            return path
    return None


def _config(path: Path, cls: type[C]) -> C:
    sidecar = path.with_name(path.name + ".json")
    if not sidecar.is_file():
        return cls()
    try:
        values = json.loads(sidecar.read_text())
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
    except (ValueError, TypeError) as error:
        raise ModelError(f"{sidecar}: not a {cls.__name__}: {error}") from error


def _load(module_cls: Any, config: Any, path: Path, device: str) -> Any:
    with torch.device("meta"):
        model = module_cls(config)
    load_checkpoint(model, path)
    return model.to(device).eval().requires_grad_(False)


def load_syncnet(path: Path, device: str = "cpu") -> SyncNet:
    """SyncNet from ``path`` (its config from ``<path>.json`` when present)."""
    model: SyncNet = _load(SyncNet, _config(path, SyncNetConfig), path, device)
    return model


def load_arcface(path: Path, device: str = "cpu") -> IResNet:
    """The ArcFace IResNet from ``path`` (its config from ``<path>.json`` when present)."""
    model: IResNet = _load(IResNet, _config(path, IResNetConfig), path, device)
    return model


def save_tiny(model: nn.Module, config: Any, path: Path) -> Path:
    """Write ``model``'s state dict to ``path`` (safetensors) with its config beside it; for
    tests and demos of the loaders (random weights measure nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    path.with_name(path.name + ".json").write_text(json.dumps(dataclasses.asdict(config)))
    return path


def load_face_landmarks(model_dir: Path, device: str = "cpu") -> tuple[WholebodyBackend, bool]:
    """The folder's whole-body landmark networks and whether they are test weights."""
    folder = ModelFolder(Path(model_dir))
    estimator = load_wholebody(
        folder.path("yolox"),
        folder.path("rtmw"),
        device=device,
        detector_config=folder.yolox_config(),
        pose_config=folder.rtmw_config(),
    )
    return estimator, folder.metadata.is_test_weights

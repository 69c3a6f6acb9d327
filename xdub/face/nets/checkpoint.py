"""Strict loading of OpenMMLab checkpoints (``.pth`` in mmengine layout, or ``.safetensors``).

An mmengine ``.pth`` is a dict with the weights under ``state_dict`` and, usually, a ``meta``
entry (config text, class names, dataset meta with numpy arrays). It is read with
``torch.load(weights_only=True)``; the only non-tensor globals allowed beyond torch's defaults
are numpy's array/scalar reconstructors, which carry data only. As mmengine does, a ``module.``
prefix is stripped and mmdet-2.x EMA copies (``ema_*`` keys) are ignored.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from xdub.errors import ModelError

log = logging.getLogger(__name__)

_LISTED = 8
"""How many offending keys a ModelError names before it says '... and N more'."""


def _numpy_safe_globals() -> list[Any]:
    """numpy reconstructors under both their numpy-1 (``numpy.core``) and numpy-2 names."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]

    dtype_classes = [getattr(np.dtypes, name) for name in np.dtypes.__all__]
    pairs: list[Any] = [np.ndarray, np.dtype, *dtype_classes]
    for name in ("_reconstruct", "scalar"):
        fn = getattr(multiarray, name)
        pairs += [(fn, f"numpy.core.multiarray.{name}"), (fn, f"numpy._core.multiarray.{name}")]
    return pairs


def _listed(keys: list[str]) -> str:
    head = ", ".join(keys[:_LISTED])
    return head + (f" ... and {len(keys) - _LISTED} more" if len(keys) > _LISTED else "")


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """The tensors of a ``.safetensors`` file, or the ``state_dict`` of an mmengine ``.pth``."""
    if not path.is_file():
        raise ModelError(f"checkpoint not found: {path}", code="model_missing")
    if path.suffix == ".safetensors":
        try:
            return load_file(path)
        except Exception as exc:  # safetensors raises its own untyped errors
            raise ModelError(f"cannot read {path}: {exc}") from exc
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise ModelError(
            f"cannot read {path} as a weights-only torch checkpoint: {exc}",
            hint="a released checkpoint holds only tensors, plain metadata and numpy arrays; "
            "re-download it, or strip training state (optimizer, message hub) from it",
        ) from exc
    weights = raw.get("state_dict", raw) if isinstance(raw, Mapping) else None
    if not isinstance(weights, Mapping):
        raise ModelError(f"{path} holds no state_dict mapping")
    state: dict[str, Tensor] = {}
    ema_keys = 0
    for key, value in weights.items():
        if key.startswith("ema_"):
            ema_keys += 1
            continue
        if not isinstance(value, Tensor):
            raise ModelError(f"{path}: entry {key!r} is not a tensor")
        state[key.removeprefix("module.")] = value
    if ema_keys:
        log.warning("%s: ignored %d EMA entries (ema_*), as mmdet does", path, ema_keys)
    return state


def load_strict(model: nn.Module, state: Mapping[str, Tensor], source: str) -> None:
    """Assign ``state`` to ``model`` (which may live on the meta device), cast to its dtypes.

    Any missing or unexpected key, or any shape mismatch, is a ``ModelError`` that names them.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listed(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches (file != model): {_listed(mismatched)}")
    if problems:
        raise ModelError(
            f"{source} does not match {type(model).__name__}: " + "; ".join(problems),
            hint="check that the checkpoint and the model config belong together",
        )
    cast = {k: state[k].to(v.dtype) for k, v in expected.items()}
    model.load_state_dict(cast, strict=True, assign=True)


def load_checkpoint(model: nn.Module, path: Path) -> None:
    """Read ``path`` (``.pth``/``.safetensors``) and load it strictly into ``model``."""
    load_strict(model, read_state_dict(path), str(path))

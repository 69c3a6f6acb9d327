"""Reading checkpoints: safetensors headers, structure checks, and loading without host copies.

Loading builds the module on the meta device (no memory), checks the file's header against the
module's ``state_dict()`` (keys, shapes), then reads the tensors with ``safetensors.safe_open``
one at a time on the target device, casts each there, and assigns them
(``load_state_dict(assign=True, strict=True)``). On the CPU, a tensor already in the target
dtype stays a view of the memory-mapped file (page cache, no anonymous copy); on a GPU each
tensor is copied up as it is read. No float32 copy of the model is ever made in host RAM unless
float32 on the CPU is what was asked for.
"""

from __future__ import annotations

import json
import logging
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

from xdub.errors import ModelError
from xdub.model.config import DiTConfig
from xdub.model.dit import XDubDiT
from xdub.model.vae import WanVae, build_vae_module
from xdub.model.vae_config import VaeConfig
from xdub.weights.problem import Problem

log = logging.getLogger(__name__)

# safetensors dtype names <-> torch dtypes (the ones our checkpoints can hold).
SAFETENSORS_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
FLOAT_DTYPES = frozenset({"F32", "F16", "BF16"})
_HEADER_LIMIT_BYTES = 100 * 2**20  # safetensors' own cap on the JSON header
_MAX_PROBLEMS_IN_ERROR = 5
_CORRUPT = "model_corrupt"  # error codes shared with xdub.face.nets.checkpoint


def dtype_name(dtype: torch.dtype) -> str:
    """The safetensors name of a torch dtype (``torch.bfloat16`` -> ``"BF16"``)."""
    for name, candidate in SAFETENSORS_DTYPES.items():
        if candidate == dtype:
            return name
    raise ValueError(f"dtype {dtype} has no safetensors name")


@dataclass(frozen=True)
class TensorSpec:
    """Shape and safetensors dtype name of one stored tensor."""

    shape: tuple[int, ...]
    dtype: str

    @property
    def num_bytes(self) -> int:
        return math.prod(self.shape) * SAFETENSORS_DTYPES[self.dtype].itemsize


def shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ",".join(str(size) for size in shape) + "]"


def module_specs(module: nn.Module) -> dict[str, TensorSpec]:
    """Expected tensors of ``module`` (may live on the meta device)."""
    return {
        name: TensorSpec(tuple(tensor.shape), dtype_name(tensor.dtype))
        for name, tensor in module.state_dict().items()
    }


def read_safetensors_specs(path: Path, label: str | None = None) -> dict[str, TensorSpec]:
    """Tensor specs from a safetensors header, reading only the header (any file size).

    Raises ``ModelError`` naming ``label`` (default: the file name) when the file is missing,
    the header is unreadable, or the data section is shorter than the header says (truncated).
    """
    label = label or path.name
    try:
        file_size = path.stat().st_size
        with path.open("rb") as stream:
            prefix = stream.read(8)
            if len(prefix) < 8:
                raise ModelError(
                    f"{label}: file is {file_size} bytes, too short for safetensors",
                    code=_CORRUPT,
                )
            (header_size,) = struct.unpack("<Q", prefix)
            if header_size > min(_HEADER_LIMIT_BYTES, file_size - 8):
                raise ModelError(
                    f"{label}: header length {header_size} exceeds the file ({file_size} bytes); "
                    "the file is truncated or not safetensors",
                    code=_CORRUPT,
                )
            header = json.loads(stream.read(header_size))
    except FileNotFoundError as exc:
        raise ModelError(f"{label}: file not found at {path}", code="model_missing") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{label}: unreadable safetensors header ({exc})", code=_CORRUPT) from exc
    return _specs_from_header(header, label, data_size=file_size - 8 - header_size)


def _specs_from_header(header: object, label: str, data_size: int) -> dict[str, TensorSpec]:
    if not isinstance(header, dict):
        raise ModelError(f"{label}: safetensors header is not a JSON object", code=_CORRUPT)
    specs: dict[str, TensorSpec] = {}
    data_end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            spec = TensorSpec(tuple(int(size) for size in entry["shape"]), str(entry["dtype"]))
            start, end = (int(offset) for offset in entry["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"{label}: {name} has a malformed header entry {entry!r}", code=_CORRUPT
            ) from exc
        if spec.dtype in SAFETENSORS_DTYPES and end - start != spec.num_bytes:
            raise ModelError(
                f"{label}: {name} spans {end - start} bytes but {spec.dtype}"
                f"{shape_text(spec.shape)} needs {spec.num_bytes}",
                code=_CORRUPT,
            )
        specs[name] = spec
        data_end = max(data_end, end)
    if data_end > data_size:
        raise ModelError(
            f"{label}: truncated: the header describes {data_end} bytes of tensor data but the "
            f"file holds {data_size}",
            code=_CORRUPT,
            hint="download the file again",
        )
    return specs


def compare_specs(
    label: str,
    found: Mapping[str, TensorSpec],
    expected: Mapping[str, TensorSpec],
    *,
    allowed_dtypes: frozenset[str] | None = None,
) -> list[Problem]:
    """Every difference between stored and expected tensors, one ``Problem`` per tensor.

    Shapes must match exactly. Dtypes must lie in ``allowed_dtypes`` when given (floating
    tensors only; integer buffers must match their expected dtype), else equal the expected one.
    """
    problems = [Problem(label, "is missing", tensor=name) for name in expected if name not in found]
    problems += [
        Problem(label, "is not expected by the model", tensor=name)
        for name in found
        if name not in expected
    ]
    for name, spec in found.items():
        want = expected.get(name)
        if want is None:
            continue
        if spec.shape != want.shape:
            problems.append(
                Problem(
                    label,
                    f"has shape {shape_text(spec.shape)}, expected {shape_text(want.shape)}",
                    tensor=name,
                )
            )
        is_float = want.dtype in FLOAT_DTYPES or want.dtype == "F64"
        accepted = allowed_dtypes if allowed_dtypes is not None and is_float else {want.dtype}
        if spec.dtype not in accepted:
            problems.append(
                Problem(
                    label,
                    f"has dtype {spec.dtype}, expected {' or '.join(sorted(accepted))}",
                    tensor=name,
                )
            )
    return problems


def raise_for_problems(problems: list[Problem], what: str) -> None:
    """Raise one ``ModelError`` listing the first few problems, if there are any."""
    if not problems:
        return
    shown = "; ".join(str(problem) for problem in problems[:_MAX_PROBLEMS_IN_ERROR])
    more = len(problems) - _MAX_PROBLEMS_IN_ERROR
    suffix = f"; and {more} more" if more > 0 else ""
    raise ModelError(
        f"{what} does not match the expected model: {shown}{suffix}",
        code="model_mismatch",
        hint="run `xdub models verify DIR` for the full list",
    )


def load_weights(
    module: nn.Module,
    path: Path,
    *,
    device: torch.device | str,
    dtype: torch.dtype,
    label: str | None = None,
) -> nn.Module:
    """Assign the tensors of safetensors ``path`` to ``module`` (built on meta), on ``device``.

    Floating tensors are cast to ``dtype`` on ``device`` one at a time; integer buffers keep
    theirs. Keys and shapes are checked against the module first, so a mismatch raises a
    ``ModelError`` naming the file and tensor instead of a torch traceback.
    """
    label = label or path.name
    expected = module_specs(module)
    found = read_safetensors_specs(path, label)
    raise_for_problems(
        compare_specs(label, found, expected, allowed_dtypes=FLOAT_DTYPES | {"F64"}), label
    )
    device = torch.device(device)
    state: dict[str, torch.Tensor] = {}
    with safe_open(str(path), framework="pt", device=_safetensors_device(device)) as stored:
        for name in stored.keys():
            tensor = stored.get_tensor(name)
            state[name] = tensor.to(dtype) if tensor.is_floating_point() else tensor
    module.load_state_dict(state, strict=True, assign=True)
    log.debug("loaded %d tensors from %s to %s %s", len(state), path, device, dtype)
    return module


def _safetensors_device(device: torch.device) -> str | int:
    if device.type == "cuda":
        return device.index if device.index is not None else torch.cuda.current_device()
    return device.type


def load_dit(
    path: Path,
    *,
    device: torch.device | str,
    dtype: torch.dtype,
    config: DiTConfig | None = None,
) -> XDubDiT:
    """The X-Dub DiT from its safetensors file, in eval mode (``config``: the released model's
    unless given; a model folder passes its own, ``ModelFolder.dit_config()``)."""
    with torch.device("meta"):
        model = XDubDiT(config or DiTConfig.x_dub())
    load_weights(model, Path(path), device=device, dtype=dtype)
    return model.eval().requires_grad_(False)


def load_vae(
    path: Path,
    *,
    device: torch.device | str,
    dtype: torch.dtype,
    config: VaeConfig | None = None,
) -> WanVae:
    """The Wan2.2 VAE from its ``Wan2.2_VAE.safetensors`` file (``config``: the released VAE's
    unless given; a model folder passes its own, ``ModelFolder.vae_config()``)."""
    module = build_vae_module(config or VaeConfig.wan22())
    load_weights(module, Path(path), device=device, dtype=dtype)
    return WanVae(module, dtype=dtype)

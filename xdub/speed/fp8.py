"""FP8 weights for the DiT blocks' linears: torchao float8, per-row scales (fast mode only).

Weights are quantised per output row to ``float8_e4m3fn``; activations per token, dynamically
(``Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())``), so the GEMMs run on FP8
tensor cores. That needs CUDA compute capability 8.9 (Ada, Hopper) or newer and the optional
``torchao`` package; anywhere else :func:`require_fp8` refuses with a clear error rather than
running something slower or different. The bf16 weights are kept in CPU memory, so
:meth:`Fp8Weights.remove` restores the exact model for the next exact take.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import torch
from torch import Tensor, nn

from xdub.errors import ModelError
from xdub.model.dit import XDubDiT

log = logging.getLogger(__name__)

MIN_CAPABILITY = (8, 9)
"""FP8 tensor cores: Ada (sm89) and Hopper (sm90) and newer."""


def fp8_problem(device: torch.device) -> str | None:
    """Why FP8 DiT weights cannot run on ``device``, or None."""
    if device.type != "cuda":
        return f"FP8 weights need an NVIDIA GPU of compute capability 8.9+; this device is {device}"
    capability = torch.cuda.get_device_capability(device)
    if capability < MIN_CAPABILITY:
        name = torch.cuda.get_device_name(device)
        return (
            f"FP8 weights need compute capability 8.9+ (Ada, Hopper); {name} is "
            f"sm{capability[0]}{capability[1]}"
        )
    if importlib.util.find_spec("torchao") is None:
        return "FP8 weights need the torchao package (pip install 'xdub[fast]')"
    return None


def require_fp8(device: torch.device) -> None:
    """Raise ``ModelError`` (code ``unsupported_hardware``) unless FP8 can run on ``device``."""
    problem = fp8_problem(device)
    if problem is not None:
        raise ModelError(
            problem,
            code="unsupported_hardware",
            hint="dub with --fp8 off (fast mode's other speedups still apply), or on an "
            "RTX 40xx / L4 / L40 / H100-class GPU",
        )


def _is_block_linear(module: nn.Module, fqn: str) -> bool:
    return isinstance(module, nn.Linear) and fqn.startswith("blocks.")


class Fp8Weights:
    """The DiT's block linears in FP8 while applied; :meth:`remove` puts the bf16 back."""

    def __init__(self, model: XDubDiT) -> None:
        require_fp8(model.patch_embedding.weight.device)
        self._model = model
        self._originals: list[tuple[nn.Linear, Tensor]] = [
            (module, module.weight.detach().to("cpu", copy=True))
            for name, module in model.named_modules()
            if _is_block_linear(module, name)
        ]
        from torchao.quantization import (  # optional dependency, present per require_fp8
            Float8DynamicActivationFloat8WeightConfig,
            PerRow,
            quantize_,
        )

        config: Any = Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())
        quantize_(model, config, filter_fn=_is_block_linear)
        log.info("FP8 per-row weights for %d DiT linears", len(self._originals))

    def remove(self) -> None:
        """Restore the bf16 weights (bit-exact copies) on the model's device."""
        device = self._model.patch_embedding.weight.device
        for module, weight in self._originals:
            module.weight = nn.Parameter(weight.to(device), requires_grad=False)
        self._originals = []

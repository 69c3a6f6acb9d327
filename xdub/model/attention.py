"""Scaled dot-product attention over a small backend registry.

``sdpa`` (``torch.nn.functional.scaled_dot_product_attention``) is the default and is what the
reference ran for the golden data. ``flash`` (FlashAttention 3, else 2) is exact up to float
association and is used only when importable and the inputs are CUDA fp16/bf16. ``sage``
(SageAttention) quantises q/k, so it changes results beyond bf16 rounding; it is never picked
by ``auto``. All backends take and return the (B, L, heads, head_dim) layout.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from xdub.errors import ModelError

log = logging.getLogger(__name__)

AttentionBackend = Literal["auto", "sdpa", "flash", "sage"]
AttentionFn = Callable[[Tensor, Tensor, Tensor], Tensor]


def _sdpa(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2)


def _import_first(*names: str) -> ModuleType | None:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


@cache
def _flash_fn() -> AttentionFn | None:
    module = _import_first("flash_attn_interface", "flash_attn")  # FlashAttention 3, then 2
    if module is None:
        return None
    flash_attn_func = module.flash_attn_func
    log.debug("flash attention backend: %s", module.__name__)

    def run(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        out = flash_attn_func(q, k, v)
        return out[0] if isinstance(out, tuple) else out  # FA3 may also return the LSE

    return run


@cache
def _sage_fn() -> AttentionFn | None:
    module = _import_first("sageattention")
    if module is None:
        return None
    sageattn = module.sageattn

    def run(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return sageattn(q, k, v, tensor_layout="NHD")

    return run


def available_backends() -> list[str]:
    """Backend names usable in this environment (``sdpa`` always)."""
    names = ["sdpa"]
    if _flash_fn() is not None:
        names.append("flash")
    if _sage_fn() is not None:
        names.append("sage")
    return names


def _is_cuda_half(q: Tensor) -> bool:
    return q.device.type == "cuda" and q.dtype in (torch.float16, torch.bfloat16)


def attention(q: Tensor, k: Tensor, v: Tensor, *, backend: AttentionBackend = "sdpa") -> Tensor:
    """Softmax attention with scale ``head_dim^-0.5``, no mask.

    q: (B, Lq, heads, head_dim); k, v: (B, Lk, heads, head_dim). Returns (B, Lq, heads, head_dim).
    """
    if backend == "sdpa":
        return _sdpa(q, k, v)
    if backend == "auto":
        flash = _flash_fn()
        return flash(q, k, v) if flash is not None and _is_cuda_half(q) else _sdpa(q, k, v)
    lookup = {"flash": _flash_fn, "sage": _sage_fn}.get(backend)
    if lookup is None:
        raise ModelError(f"unknown attention backend {backend!r}; choose auto, sdpa, flash, sage")
    fn = lookup()
    if fn is None:
        raise ModelError(
            f"attention backend {backend!r} is not installed",
            hint=f"install it, or use one of {available_backends()}",
        )
    if not _is_cuda_half(q):
        raise ModelError(
            f"attention backend {backend!r} needs CUDA fp16/bf16 tensors, got {q.device} {q.dtype}"
        )
    return fn(q, k, v)

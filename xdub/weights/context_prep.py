"""Preparing a model folder's text context from its umt5 encoder and tokenizer.

torch is imported only when a device is chosen or the context is computed.
"""

from __future__ import annotations

import os
from pathlib import Path

from xdub.errors import ModelError
from xdub.weights.disk import finished_bytes
from xdub.weights.folder import ModelFolder

CONTEXT_INPUTS = ("umt5", "tokenizer")
"""Components needed only to prepare the text context (``xdub models prepare-context``)."""


def prepare_context_if_possible(folder: ModelFolder, device: str | None = None) -> tuple[bool, str]:
    """Compute the text context when it is missing and umt5 + tokenizer are present, on
    ``device`` or on the first of cuda / cpu with memory for umt5; returns whether it was
    written and, if not, a note saying what to run."""
    if folder.path("text_context").is_file():
        return False, ""
    command = f"xdub models prepare-context {folder.root} --device DEVICE"
    if not all(folder.path(name).exists() for name in CONTEXT_INPUTS):
        return False, f"the text context is missing: get umt5 and its tokenizer, then {command}"
    device = device or choose_context_device(finished_bytes(folder.path("umt5")))
    if device is None:
        return False, f"not enough memory for umt5 here; on a larger machine run {command}"
    prepare_text_context(folder, device, "fp32" if folder.metadata.is_test_weights else "bf16")
    return True, f"prepared the text context on {device}; umt5 can now be deleted"


def choose_context_device(umt5_bytes: int) -> str | None:
    """``cuda`` when its free memory holds umt5 with headroom, else ``cpu`` when the available
    RAM does, else None."""
    import torch

    if torch.cuda.is_available() and torch.cuda.mem_get_info()[0] >= 1.2 * umt5_bytes:
        return "cuda"
    available_bytes = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return "cpu" if available_bytes >= 1.5 * umt5_bytes else None


def prepare_text_context(folder: ModelFolder, device: str, dtype_name: str = "bf16") -> Path:
    """Encode the empty prompt with the folder's umt5 on ``device`` in ``dtype_name``
    (bf16 / fp16 / fp32) and save the cache; returns its path."""
    import torch

    from xdub.weights.text_context import compute_text_context, save_text_context

    for name in CONTEXT_INPUTS:
        if not folder.path(name).exists():
            raise ModelError(
                f"{folder.path(name)} is missing; it is needed once to prepare the text context",
                code="model_missing",
                hint="download the umt5 encoder and tokenizer into the folder",
            )
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    context = compute_text_context(
        folder.path("tokenizer"),
        folder.path("umt5"),
        device,
        dtypes[dtype_name],
        config=folder.umt5_config(),
    )
    target = folder.path("text_context")
    save_text_context(context, target, encoder_file=folder.path("umt5").name)
    return target

"""Regional ``torch.compile`` of the DiT: each block's ``forward`` compiled, the code shared.

All 30 blocks run the same code on different weights; dynamo treats module parameters as
graph inputs (``inline_inbuilt_nn_modules``), so the graphs compiled for block 0 serve every
block: compile time is one block's, not the model's. Where compiling is impossible (no dynamo
on this Python, no C++ compiler or Triton for inductor), the first call fails inside dynamo;
the blocks then go back to eager, the reason is logged as a warning and kept in
:class:`CompileState` (it goes into the take's metadata), and the call is answered eagerly.

CUDA graphs (``mode="reduce-overhead"``) are used only on CUDA and only when asked; they need
static shapes and weights that stay put, so callers refuse them under ``low_vram`` streaming.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from xdub.model.dit import XDubDiT

log = logging.getLogger(__name__)


@dataclass
class CompileState:
    """How the DiT blocks run: ``status`` is ``eager``, ``compiled`` or ``fallback``."""

    status: str = "eager"
    cuda_graphs: bool = False
    reason: str | None = None
    """Why compile fell back (or why CUDA graphs were left off)."""
    cuda_graph_hook: RemovableHandle | None = field(default=None, repr=False)

    def as_metadata(self) -> dict[str, Any]:
        return {"compile": self.status, "cuda_graphs": self.cuda_graphs, "reason": self.reason}


def compile_problem() -> str | None:
    """Why ``torch.compile`` cannot be tried here at all, or None."""
    if not torch._dynamo.is_dynamo_supported():
        return "torch.compile (dynamo) is not supported on this Python/platform"
    return None


def compile_blocks(
    model: XDubDiT,
    *,
    cuda_graphs: bool = False,
    backend: str | Callable[..., Any] = "inductor",
) -> CompileState:
    """Compile every block of ``model`` in place (idempotent). ``backend`` is for tests."""
    state = CompileState()
    problem = compile_problem()
    if problem is not None:
        state.status, state.reason = "fallback", problem
        log.warning("DiT blocks run eagerly: %s", problem)
        return state
    device = model.patch_embedding.weight.device
    mode = None
    if cuda_graphs and device.type == "cuda":
        mode, state.cuda_graphs = "reduce-overhead", True
        state.cuda_graph_hook = model.register_forward_pre_hook(_mark_cuda_graph_step)
    elif cuda_graphs:
        state.reason = f"CUDA graphs need a CUDA device, not {device.type}"
        log.info("%s; compiling without them", state.reason)
    eager = [block.forward for block in model.blocks]
    for block, forward in zip(model.blocks, eager, strict=True):
        compiled = torch.compile(forward, backend=backend, mode=mode, dynamic=False)
        block.forward = _guarded(compiled, forward, model.blocks, state)  # type: ignore[method-assign,unused-ignore]
    state.status = "compiled"
    log.info("DiT blocks compiled (%s%s)", backend, ", CUDA graphs" if state.cuda_graphs else "")
    return state


def uncompile_blocks(model: XDubDiT, state: CompileState) -> None:
    """Undo :func:`compile_blocks`: every block runs its class's eager ``forward`` again."""
    for block in model.blocks:
        vars(block).pop("forward", None)
    if state.cuda_graph_hook is not None:
        state.cuda_graph_hook.remove()
    state.status, state.cuda_graphs, state.cuda_graph_hook = "eager", False, None


def _guarded(
    compiled: Callable[..., Any],
    eager: Callable[..., Any],
    blocks: nn.ModuleList,
    state: CompileState,
) -> Callable[..., Any]:
    """``compiled``, falling back for good to the eager forwards when dynamo fails."""

    def forward(*args: Any, **kwargs: Any) -> Any:
        if state.status != "compiled":
            return eager(*args, **kwargs)
        try:
            return compiled(*args, **kwargs)
        except torch._dynamo.exc.TorchDynamoException as error:
            reason = _reason(error)
            state.status, state.cuda_graphs, state.reason = "fallback", False, reason
            log.warning("torch.compile failed; the DiT blocks run eagerly from now on (%s)", reason)
            for block in blocks:
                vars(block).pop("forward", None)  # the class's forward again (uncompile)
            return eager(*args, **kwargs)

    return forward


def _reason(error: Exception) -> str:
    """One line: the error type and the compiler's own message (inner error first)."""
    inner = getattr(error, "inner_exception", None)
    source = inner if isinstance(inner, Exception) else error
    lines = str(source).strip().splitlines()
    return f"{type(source).__name__}: {lines[0] if lines else ''}"


def _mark_cuda_graph_step(_module: nn.Module, _args: Any) -> None:
    """A new DiT forward begins: earlier CUDA-graph outputs may be overwritten."""
    torch.compiler.cudagraph_mark_step_begin()

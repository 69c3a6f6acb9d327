"""Put a take's :class:`~xdub.speed.plan.SpeedPlan` onto the loaded DiT, between takes.

The pipeline keeps one :class:`DitSpeedups` for its DiT. Regional compile is applied once per
process (``compile``: ``auto`` = on CUDA only, ``on``, ``off``); FP8 weights are put on for a
fast take and taken off (bf16 restored) for the next exact one; the attention backend is set
per take.
"""

from __future__ import annotations

import logging
from typing import Any

from xdub.errors import ModelError
from xdub.model.dit import XDubDiT
from xdub.protocol.records import VramPolicy
from xdub.speed.compile import CompileState, compile_blocks
from xdub.speed.fp8 import Fp8Weights
from xdub.speed.plan import SpeedPlan

log = logging.getLogger(__name__)

COMPILE_CHOICES = ("auto", "on", "off")


class DitSpeedups:
    """The speedups currently applied to ``model``; :meth:`apply` switches them per take."""

    def __init__(
        self,
        model: XDubDiT,
        *,
        compile: str = "auto",
        cuda_graphs: bool = False,
        vram_policy: VramPolicy = VramPolicy.RESIDENT,
    ) -> None:
        if compile not in COMPILE_CHOICES:
            raise ModelError(f"compile {compile!r} is not one of {', '.join(COMPILE_CHOICES)}")
        self._model = model
        self._vram_policy = VramPolicy(vram_policy)
        device = model.patch_embedding.weight.device
        self._wants_compile = compile == "on" or (compile == "auto" and device.type == "cuda")
        if cuda_graphs and self._vram_policy is VramPolicy.LOW_VRAM:
            log.info("CUDA graphs are off under low_vram (the weights move every step)")
            cuda_graphs = False
        self._cuda_graphs = cuda_graphs
        self.compile_state = CompileState()
        self._fp8: Fp8Weights | None = None

    def apply(self, plan: SpeedPlan) -> dict[str, Any]:
        """Make the DiT run as ``plan`` says; returns what is in effect (for the metadata)."""
        if plan.fp8 and self._vram_policy is not VramPolicy.RESIDENT:
            raise ModelError(
                f"FP8 weights need the VRAM policy resident, not {self._vram_policy.value}",
                code="unsupported_hardware",
                hint="dub with --fp8 off, or with --vram-policy resident",
            )
        if plan.fp8 and self._fp8 is None:
            self._fp8 = Fp8Weights(self._model)
        elif not plan.fp8 and self._fp8 is not None:
            self._fp8.remove()
            self._fp8 = None
        self._model.attention_backend = plan.attention
        if self._wants_compile and self.compile_state.status == "eager":
            self.compile_state = compile_blocks(self._model, cuda_graphs=self._cuda_graphs)
        return self.compile_state.as_metadata()

"""The step cache's indicator: the first DiT block's modulated input, target tokens only.

TeaCache's observation is that how much a DiT's output changes between steps follows how much
the timestep-modulated input of its first block changes. This computes that input for the noisy
target latents alone (patch embedding, ``norm1``, shift/scale of the step's timestep): about
1/num_blocks of one branch's linear work, and no attention.
"""

from __future__ import annotations

import torch
from torch import Tensor

from xdub.model.dit import XDubDiT


class ModulatedInput:
    """``latents, model_t -> (1, N, dim)``: block 0's modulated input of the target tokens."""

    def __init__(self, model: XDubDiT) -> None:
        self._model = model

    @torch.no_grad()
    def __call__(self, latents: Tensor, model_t: Tensor) -> Tensor:
        model = self._model
        block = model.dit_blocks[0]
        timestep = model_t.to(device=latents.device, dtype=latents.dtype)
        _, t_mod = model.time_rows(timestep)
        shift, scale = (block.modulation.to(t_mod.dtype) + t_mod[1:2]).chunk(6, dim=1)[:2]
        tokens = model.patch_embedding(latents).flatten(2).transpose(1, 2)
        return block.norm1(tokens) * (1 + scale) + shift

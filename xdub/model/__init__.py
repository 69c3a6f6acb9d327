"""Model: the X-Dub DiT, AudioProjModule, VAE, text context and the model folder."""

from __future__ import annotations

from xdub.model.config import AudioProjConfig, DiTConfig
from xdub.model.dit import VARIANTS, TextContext, XDubDiT, build_dit, init_random_weights

__all__ = [
    "VARIANTS",
    "AudioProjConfig",
    "DiTConfig",
    "TextContext",
    "XDubDiT",
    "build_dit",
    "init_random_weights",
]

"""The text context's torch-free facts: the umt5 encoder's config and the cache file's layout.

``xdub.weights.text_context`` computes and reads the cache; the model folder only needs these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xdub.errors import ModelError

TEXT_LENGTH = 512
"""Tokens of the (padded) prompt: the context is ``(1, TEXT_LENGTH, text_dim)``."""
TEXT_CONTEXT_FILE = "xdub_text_context.safetensors"
TEXT_CONTEXT_KEY = "context"


@dataclass(frozen=True)
class Umt5Config:
    """Constructor arguments of DiffSynth's ``WanTextEncoder``; defaults are umt5-xxl."""

    vocab: int = 256384
    dim: int = 4096
    dim_attn: int = 4096
    dim_ffn: int = 10240
    num_heads: int = 64
    num_layers: int = 24
    num_buckets: int = 32

    @classmethod
    def umt5_xxl(cls) -> Umt5Config:
        """The released encoder (``models_t5_umt5-xxl-enc-bf16.safetensors``)."""
        return cls()

    @classmethod
    def tiny_for_tests(cls, text_dim: int, vocab: int) -> Umt5Config:
        """Two layers of width ``text_dim`` (the DiT text_dim) over ``vocab`` tokens."""
        return cls(
            vocab=vocab,
            dim=text_dim,
            dim_attn=text_dim,
            dim_ffn=2 * text_dim,
            num_heads=2,
            num_layers=2,
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Umt5Config:
        try:
            return cls(**data)
        except TypeError as exc:
            raise ModelError(f"invalid umt5 config {dict(data)!r}: {exc}") from exc

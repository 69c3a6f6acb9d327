"""``VaeConfig``: the Wan2.2 VAE's constructor arguments, without torch or DiffSynth.

The model folder reads it from ``xdub-model.json``; ``xdub.model.vae`` builds the network.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xdub.errors import ModelError


@dataclass(frozen=True)
class VaeConfig:
    """Constructor arguments of DiffSynth's ``VideoVAE38_``; defaults are the released Wan2.2 VAE.

    ``temperal_downsample`` keeps DiffSynth's spelling so the JSON matches its kwargs.
    """

    enc_dim: int = 160
    dec_dim: int = 256
    z_dim: int = 48
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    temperal_downsample: tuple[bool, ...] = (False, True, True)
    attn_scales: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.z_dim != 48:
            raise ModelError(
                f"VaeConfig: z_dim {self.z_dim} is unsupported; the Wan2.2 latent statistics "
                "are defined for 48 channels"
            )

    @classmethod
    def wan22(cls) -> VaeConfig:
        """The released Wan2.2 VAE (encoder 160, decoder 256, about 0.7 B parameters)."""
        return cls()

    @classmethod
    def tiny_for_tests(cls) -> VaeConfig:
        """The golden tiny width (encoder 4, decoder 4); same structure as the real VAE."""
        return cls(enc_dim=4, dec_dim=4)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples as lists)."""
        return {name: _jsonable(value) for name, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VaeConfig:
        """Read the fields of this class from ``data``; other keys (init notes) are ignored."""
        known = {field.name for field in dataclasses.fields(cls)}
        try:
            values = {name: data[name] for name in known if name in data}
            for name in ("dim_mult", "temperal_downsample", "attn_scales"):
                if name in values:
                    values[name] = tuple(values[name])
            return cls(**values)
        except TypeError as exc:
            raise ModelError(f"invalid VAE config {dict(data)!r}: {exc}") from exc


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value

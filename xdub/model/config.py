"""Configuration of the X-Dub DiT and its AudioProjModule (frozen, JSON round-trippable)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from xdub.errors import ModelError

# LipSyncModel flags whose released values are the only ones this implementation supports.
_REQUIRED_REFERENCE_FLAGS: dict[str, Any] = {
    "has_image_input": False,
    "seperated_timestep": True,
    "require_vae_embedding": False,
    "require_clip_embedding": False,
    "fuse_vae_embedding_in_latents": True,
    "audio_inject_layers_mode": "all",
}


@dataclass(frozen=True)
class AudioProjConfig:
    """AudioProjModule: Linear in -> num_layers x (attention + GEGLU FF) per latent frame -> out.

    ``in_dim`` is Whisper 1280 + Wav2Vec2 768 channels; ``out_dim`` must equal the DiT ``dim``.
    ``eps`` is the LayerNorm default of the reference (diffusers) layers, not the DiT's 1e-6.
    """

    in_dim: int = 2048
    intermediate_dim: int = 1536
    out_dim: int = 3072
    num_layers: int = 4
    num_heads: int = 24
    head_dim: int = 64
    max_seq_len: int = 100
    ff_mult: int = 4
    eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.num_heads * self.head_dim != self.intermediate_dim:
            raise ModelError(
                f"AudioProjConfig: num_heads {self.num_heads} x head_dim {self.head_dim} "
                f"must equal intermediate_dim {self.intermediate_dim}"
            )
        if self.intermediate_dim % 2:
            raise ModelError(
                f"AudioProjConfig: intermediate_dim {self.intermediate_dim} must be even "
                "(sin/cos positional embedding)"
            )


@dataclass(frozen=True)
class DiTConfig:
    """X-Dub DiT (Wan2.2-TI2V-5B + audio cross-attention). Defaults are the released model."""

    dim: int = 3072
    ffn_dim: int = 14336
    num_heads: int = 24
    num_blocks: int = 30
    in_dim: int = 48
    out_dim: int = 48
    text_dim: int = 4096
    freq_dim: int = 256
    patch: tuple[int, int, int] = (1, 2, 2)
    eps: float = 1e-6
    audio: AudioProjConfig = field(default_factory=AudioProjConfig)

    def __post_init__(self) -> None:
        if self.dim % self.num_heads:
            raise ModelError(
                f"DiTConfig: dim {self.dim} is not divisible by num_heads {self.num_heads}"
            )
        if self.head_dim % 2 or (self.head_dim // 3) % 2:
            raise ModelError(
                f"DiTConfig: head_dim {self.head_dim} does not split into 3-D RoPE pairs "
                "(head_dim and head_dim // 3 must both be even)"
            )
        if self.freq_dim % 2:
            raise ModelError(f"DiTConfig: freq_dim {self.freq_dim} must be even")
        if self.audio.out_dim != self.dim:
            raise ModelError(
                f"DiTConfig: audio.out_dim {self.audio.out_dim} must equal dim {self.dim} "
                "(audio_attn k/v are Linear(dim, dim))"
            )
        if len(self.patch) != 3 or self.patch[0] != 1:
            raise ModelError(f"DiTConfig: patch {self.patch} must be (1, ph, pw)")

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @classmethod
    def x_dub(cls) -> DiTConfig:
        """The released X-Dub DiT (6.29 B parameters, 1245 tensors)."""
        return cls()

    @classmethod
    def tiny_for_tests(cls) -> DiTConfig:
        """A small config of our own (head_dim 24) for fast CPU tests; not the golden one."""
        dim = 48
        audio = AudioProjConfig(
            intermediate_dim=32, out_dim=dim, num_layers=2, num_heads=2, head_dim=16
        )
        return cls(
            dim=dim, ffn_dim=128, num_heads=2, num_blocks=2, text_dim=24, freq_dim=64, audio=audio
        )

    @classmethod
    def from_reference_kwargs(cls, kwargs: dict[str, Any]) -> DiTConfig:
        """Read reference constructor kwargs.

        ``kwargs`` is either the whole golden ``tiny_dit_config.json`` (``LipSyncModel_kwargs``
        plus optional ``AudioProjModule_kwargs`` overrides) or bare ``LipSyncModel`` kwargs.
        """
        model_kwargs = kwargs.get("LipSyncModel_kwargs", kwargs)
        audio_kwargs = kwargs.get("AudioProjModule_kwargs", {})
        if not audio_kwargs.get("use_attn", True):
            raise ModelError("AudioProjModule use_attn=False is unsupported; X-Dub uses True")
        for name, value in _REQUIRED_REFERENCE_FLAGS.items():
            if model_kwargs.get(name, value) != value:
                raise ModelError(
                    f"reference kwarg {name}={model_kwargs[name]!r} is unsupported; "
                    f"X-Dub uses {value!r}"
                )
        try:
            dim = int(model_kwargs["dim"])
            layers = audio_kwargs.get("audio_feat_layers", (1, 1))
            channels = audio_kwargs.get("audio_feat_channels", (768, 1280))
            default_audio = AudioProjConfig()
            audio = AudioProjConfig(
                in_dim=sum(int(n) * int(c) for n, c in zip(layers, channels, strict=True)),
                intermediate_dim=int(
                    audio_kwargs.get("intermediate_dim", default_audio.intermediate_dim)
                ),
                out_dim=int(audio_kwargs.get("output_dim", default_audio.out_dim)),
                num_layers=int(audio_kwargs.get("num_layers", default_audio.num_layers)),
                num_heads=int(audio_kwargs.get("attn_num_heads", default_audio.num_heads)),
                head_dim=int(audio_kwargs.get("attn_head_dim", default_audio.head_dim)),
            )
            return cls(
                dim=dim,
                ffn_dim=int(model_kwargs["ffn_dim"]),
                num_heads=int(model_kwargs["num_heads"]),
                num_blocks=int(model_kwargs["num_layers"]),
                in_dim=int(model_kwargs["in_dim"]),
                out_dim=int(model_kwargs["out_dim"]),
                text_dim=int(model_kwargs["text_dim"]),
                freq_dim=int(model_kwargs["freq_dim"]),
                patch=_patch_tuple(model_kwargs["patch_size"]),
                eps=float(model_kwargs["eps"]),
                audio=audio,
            )
        except KeyError as exc:
            raise ModelError(f"reference DiT kwargs lack {exc.args[0]!r}") from exc

    def to_json(self) -> str:
        """The config as a JSON object (``patch`` as a list, ``audio`` nested)."""
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DiTConfig:
        """Inverse of :meth:`to_json`; unknown or missing fields raise ``ModelError``."""
        try:
            data = json.loads(text)
            audio = AudioProjConfig(**data.pop("audio"))
            return cls(**{**data, "patch": _patch_tuple(data["patch"])}, audio=audio)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ModelError(f"invalid DiT config JSON: {exc}") from exc


def _patch_tuple(values: Any) -> tuple[int, int, int]:
    pt, ph, pw = (int(v) for v in values)
    return (pt, ph, pw)

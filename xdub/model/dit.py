"""XDubDiT: the X-Dub diffusion transformer (Wan2.2-TI2V-5B + frame-local audio cross-attention).

Module names and parameter shapes are the released checkpoint's (``X-Dub_model.safetensors``,
1245 tensors). :meth:`XDubDiT.forward` is the reference ``model_fn_wan_video`` with CFG merge:
reference latents are extra tokens along the frame axis (timestep 0, spatial RoPE offset by
the grid size, no text/audio, dropped before the head).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from xdub.errors import ModelError
from xdub.model.attention import AttentionBackend
from xdub.model.audio_proj import AudioProj, SinusoidalPositions
from xdub.model.blocks import DiTBlock, Head
from xdub.model.config import DiTConfig
from xdub.model.rope import RotaryEmbedding3D
from xdub.model.timestep import SegmentRows, sinusoidal_embedding

log = logging.getLogger(__name__)

VARIANTS: dict[str, DiTConfig] = {
    "x-dub": DiTConfig.x_dub(),
    "tiny": DiTConfig.tiny_for_tests(),
}


@dataclass(frozen=True)
class TextContext:
    """Text conditioning prepared once (the X-Dub prompt is constant).

    embedding: (1 or B, L, dim) = ``text_embedding(context)``. kv: per block, the text
    cross-attention keys and values (each (1 or B, L, dim)), or None to compute them per call.
    Valid only for the weights it was computed with.
    """

    embedding: Tensor
    kv: tuple[tuple[Tensor, Tensor], ...] | None = None


class TextContextBuffers(nn.Module):
    """A :class:`TextContext` held as buffers, so it moves between devices with the DiT."""

    def __init__(self, text: TextContext) -> None:
        super().__init__()
        self.register_buffer("embedding", text.embedding, persistent=False)
        self.num_blocks = 0 if text.kv is None else len(text.kv)
        for index, (key, value) in enumerate(text.kv or ()):
            self.register_buffer(f"key_{index}", key, persistent=False)
            self.register_buffer(f"value_{index}", value, persistent=False)

    @property
    def context(self) -> TextContext:
        """The context on whatever device the buffers are on now."""
        buffers = dict(self.named_buffers())
        kv = tuple(
            (buffers[f"key_{index}"], buffers[f"value_{index}"]) for index in range(self.num_blocks)
        )
        return TextContext(buffers["embedding"], kv or None)


class XDubDiT(nn.Module):
    """The X-Dub DiT. ``strict_parity`` selects the reference complex128 RoPE multiply
    (default: float32 real rotation, ~1e-7 relative, within bf16 rounding)."""

    def __init__(
        self,
        config: DiTConfig,
        *,
        strict_parity: bool = False,
        attention_backend: AttentionBackend = "sdpa",
    ) -> None:
        super().__init__()
        self.config = config
        self.strict_parity = strict_parity
        self.attention_backend: AttentionBackend = attention_backend
        dim = config.dim
        self.patch_embedding = nn.Conv3d(
            config.in_dim, dim, kernel_size=config.patch, stride=config.patch
        )
        self.text_embedding = nn.Sequential(
            nn.Linear(config.text_dim, dim), nn.GELU(approximate="tanh"), nn.Linear(dim, dim)
        )
        self.time_embedding = nn.Sequential(
            nn.Linear(config.freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.audio_embedding = AudioProj(config.audio)
        self.blocks = nn.ModuleList(DiTBlock(config) for _ in range(config.num_blocks))
        self.head = Head(config)
        self.rope = RotaryEmbedding3D(config.head_dim)

    @property
    def dit_blocks(self) -> Sequence[DiTBlock]:
        """``blocks`` with their element type."""
        return cast("Sequence[DiTBlock]", self.blocks)

    # -- conditioning that a caller may compute once ------------------------------------------

    def time_rows(self, timestep: Tensor) -> tuple[Tensor, Tensor]:
        """Time conditioning for the distinct timesteps ``[0, *timestep]`` only.

        timestep: (B0,) in the model dtype. Returns ``t`` (1+B0, dim) and ``t_mod``
        (1+B0, 6, dim); row 0 is t=0 (reference and motion tokens).
        """
        positions = torch.cat([timestep.new_zeros(1), timestep])
        t = self.time_embedding(sinusoidal_embedding(positions, self.config.freq_dim))
        return t, self.time_projection(t).unflatten(1, (6, self.config.dim))

    def prepare_text(self, context: Tensor, *, cache_kv: bool = False) -> TextContext:
        """context: (1 or B, L, text_dim) umt5 output -> :class:`TextContext`.

        With ``cache_kv`` the per-block text keys/values are computed too
        (num_blocks x 2 x L x dim values: 0.19 GB in bf16 for the released model).
        """
        weight_dtype = self.text_embedding[0].weight.dtype
        if context.shape[-1] != self.config.text_dim or context.dtype != weight_dtype:
            raise ModelError(
                f"text context is {tuple(context.shape)} {context.dtype}; the DiT expects "
                f"(B, L, {self.config.text_dim}) {weight_dtype}"
            )
        embedding = self.text_embedding(context)
        kv = None
        if cache_kv:
            kv = tuple(block.cross_attn.key_value(embedding) for block in self.dit_blocks)
        return TextContext(embedding, kv)

    # -- forward -------------------------------------------------------------------------------

    def forward(
        self,
        latents: Tensor,
        timestep: Tensor,
        ref_latents: Tensor,
        context: Tensor | TextContext,
        audio_feats: Tensor,
        *,
        num_motion_latents: int = 0,
    ) -> Tensor:
        """Velocity of the target latents.

        latents: (B0, in_dim, F, H, W) noisy target latents, in the model dtype.
        timestep: (B0,) diffusion time in 0..1000; cast to the latents dtype first, as the
            reference does (bf16: 968.75 -> 968).
        ref_latents: (B, in_dim, F, H, W), B a multiple of B0; latents and timestep are repeated
            B // B0 times (the CFG batch [nega, posi_r, posi_ra] has B=3, B0=1).
        context: (1 or B, L, text_dim) text context, or a :class:`TextContext`.
        audio_feats: (B, F, 8, audio in_dim), Whisper ⊕ Wav2Vec2 per latent frame.
        num_motion_latents: leading target frames that are clean motion latents (timestep 0).
        Returns (B, out_dim, F, H, W).
        """
        batch, grid = self._check_inputs(
            latents, timestep, ref_latents, audio_feats, num_motion_latents
        )
        f, h, w = grid
        num_tokens = f * h * w
        repeats = batch // latents.shape[0]

        # 1. Time conditioning: one row per distinct timestep, shared by token segments. The
        #    reference tokens and the motion latents after them are one t=0 segment.
        t, t_mod = self.time_rows(timestep.to(device=latents.device, dtype=latents.dtype))
        num_clean = num_tokens + num_motion_latents * h * w
        bounds = (0, num_clean, 2 * num_tokens)
        t_mod_rows = SegmentRows(bounds, (t_mod[:1], t_mod[1:].repeat(repeats, 1, 1)))
        t_rows = SegmentRows(bounds, (t[:1, None], t[1:, None].repeat(repeats, 1, 1)))

        # 2. Text and audio conditioning (target tokens only).
        text = context if isinstance(context, TextContext) else self.prepare_text(context)
        if text.embedding.shape[0] not in (1, batch):
            raise ModelError(f"text context batch {text.embedding.shape[0]} is not 1 or {batch}")
        if text.kv is not None and len(text.kv) != len(self.blocks):
            raise ModelError(
                f"TextContext has K/V for {len(text.kv)} blocks, not {len(self.blocks)}"
            )
        audio = self.audio_embedding(audio_feats)

        # 3. Tokens [ref | target]: (B, 2N, dim).
        x = self.embed_tokens(latents, ref_latents)

        # 4. Transformer blocks over the joint sequence.
        rope = self.rope.table(
            grid, device=x.device, dtype=x.dtype, strict_parity=self.strict_parity
        )
        for i, block in enumerate(self.dit_blocks):
            text_kv = (
                text.kv[i] if text.kv is not None else block.cross_attn.key_value(text.embedding)
            )
            x = block(
                x,
                t_mod=t_mod_rows,
                rope=rope,
                text_kv=text_kv,
                audio=audio,
                num_ref_tokens=num_tokens,
                backend=self.attention_backend,
            )

        # 5. Head on the target half only, then unpatchify.
        out = self.head(x[:, num_tokens:], t_rows.tail(num_tokens))
        return self._unpatchify(out, grid)

    def embed_tokens(self, latents: Tensor, ref_latents: Tensor) -> Tensor:
        """Patch-embed ``[ref | target]`` along the frame axis.

        latents: (B0, in_dim, F, H, W); ref_latents: (B, in_dim, F, H, W). Returns (B, 2N, dim),
        N = F*h*w, reference tokens first. The target is embedded once per B0 row, not per B.
        """
        b0, batch = latents.shape[0], ref_latents.shape[0]
        target = self._patchify(latents)
        num_tokens = target.shape[1]
        x = target.new_empty(batch // b0, b0, 2 * num_tokens, self.config.dim)
        x[:, :, num_tokens:] = target
        x = x.view(batch, 2 * num_tokens, -1)
        x[:, :num_tokens] = self._patchify(ref_latents)
        return x

    def _patchify(self, latents: Tensor) -> Tensor:
        """(b, in_dim, F, H, W) -> (b, F*h*w, dim) tokens in (f, h, w) order."""
        return self.patch_embedding(latents).flatten(2).transpose(1, 2)

    def _unpatchify(self, x: Tensor, grid: tuple[int, int, int]) -> Tensor:
        """(B, F*h*w, (pt ph pw c)) -> (B, c, F*pt, h*ph, w*pw)."""
        f, h, w = grid
        pt, ph, pw = self.config.patch
        x = x.view(x.shape[0], f, h, w, pt, ph, pw, self.config.out_dim)
        return x.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(
            x.shape[0], self.config.out_dim, f * pt, h * ph, w * pw
        )

    def _check_inputs(
        self,
        latents: Tensor,
        timestep: Tensor,
        ref_latents: Tensor,
        audio_feats: Tensor,
        num_motion_latents: int,
    ) -> tuple[int, tuple[int, int, int]]:
        """Validate shapes/dtypes; returns B and the (f, h, w) token grid of one half."""
        cfg = self.config
        if latents.ndim != 5 or latents.shape[1] != cfg.in_dim:
            raise ModelError(
                f"latents must be (B0, {cfg.in_dim}, F, H, W), got {tuple(latents.shape)}"
            )
        if ref_latents.shape[1:] != latents.shape[1:]:
            raise ModelError(
                f"ref_latents {tuple(ref_latents.shape)} and latents {tuple(latents.shape)} "
                "differ beyond the batch axis"
            )
        batch, b0 = ref_latents.shape[0], latents.shape[0]
        if batch % b0:
            raise ModelError(f"ref batch {batch} is not a multiple of the latents batch {b0}")
        if timestep.shape != (b0,):
            raise ModelError(f"timestep must have shape ({b0},), got {tuple(timestep.shape)}")
        weight_dtype = self.patch_embedding.weight.dtype
        for name, tensor in (
            ("latents", latents),
            ("ref_latents", ref_latents),
            ("audio_feats", audio_feats),
        ):
            if tensor.dtype != weight_dtype:
                raise ModelError(f"{name} are {tensor.dtype}, the DiT is {weight_dtype}")
        num_frames, height, width = latents.shape[2:]
        pt, ph, pw = cfg.patch
        if height % ph or width % pw:
            raise ModelError(
                f"latent size {height}x{width} is not a multiple of the patch {ph}x{pw}"
            )
        if (
            audio_feats.shape[:2] != (batch, num_frames)
            or audio_feats.shape[-1] != cfg.audio.in_dim
        ):
            raise ModelError(
                f"audio_feats must be ({batch}, {num_frames}, tokens, {cfg.audio.in_dim}), "
                f"got {tuple(audio_feats.shape)}"
            )
        if not 0 <= num_motion_latents <= num_frames:
            raise ModelError(f"num_motion_latents {num_motion_latents} not in 0..{num_frames}")
        return batch, (num_frames // pt, height // ph, width // pw)


def init_random_weights(model: nn.Module, *, seed: int = 0) -> None:
    """Fill every tensor with seeded random values (for tests and benchmarks, not inference).

    Matrices get N(0, 1/fan_in), ``modulation`` N(0, 0.5^2), norm weights 1 + 0.2 N(0, 1),
    biases 0.1 N(0, 1); positional tables are recomputed. Runs on the model's device.
    """
    generators: dict[torch.device, torch.Generator] = {}
    with torch.no_grad():
        for name, param in model.named_parameters():
            gen = generators.setdefault(
                param.device, torch.Generator(param.device).manual_seed(seed)
            )
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "modulation":
                param.normal_(0.0, 0.5, generator=gen)
            elif param.ndim >= 2:
                param.normal_(0.0, 1.0 / math.sqrt(param[0].numel()), generator=gen)
            elif leaf == "bias":
                param.normal_(0.0, 0.1, generator=gen)
            else:
                param.normal_(1.0, 0.2, generator=gen)
        for module in model.modules():
            if isinstance(module, SinusoidalPositions):
                module.reset()


def build_dit(
    variant: str, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> XDubDiT:
    """A DiT of a named variant (see ``VARIANTS``).

    On the meta device the model has shapes only (load weights with ``assign=True``);
    elsewhere it is allocated directly in ``dtype`` and filled by :func:`init_random_weights`.
    """
    config = VARIANTS.get(variant)
    if config is None:
        raise ModelError(f"unknown DiT variant {variant!r}; choose one of {sorted(VARIANTS)}")
    target = torch.device(device) if device is not None else torch.device("cpu")
    with torch.device("meta"):
        model = XDubDiT(config)
    if dtype is not None:
        model = model.to(dtype)
    if target.type != "meta":
        model = model.to_empty(device=target)
        init_random_weights(model)
    log.debug("built DiT %s on %s (%s)", variant, target, dtype)
    return model

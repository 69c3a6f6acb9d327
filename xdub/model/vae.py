"""The Wan2.2 VAE (z 48, 16x spatial, 4x causal temporal) through DiffSynth's ``WanVideoVAE38``.

Numerics follow the reference pipeline (xdub-reference.md §2.17): pixels enter as
``x * (2/255) - 1`` in the model dtype, latents are normalised with the 48 hard-coded Wan2.2
means/stds, and decoded frames leave as ``((x + 1) * 127.5).clip(0, 255)`` truncated to uint8.
Decoding is streamed latent by latent through the causal feature cache, so memory stays bounded
for any length and the frames equal DiffSynth's one-shot ``decode(tiled=False)`` bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from diffsynth.core.vram.initialization import skip_model_initialization
from diffsynth.models.wan_video_vae import (
    VideoVAE38_,
    WanVideoVAE38,
    count_conv3d,
    unpatchify,
)
from torch import Tensor

from xdub.model.vae_config import VaeConfig

VAE_TEMPORAL_FACTOR = 4
_PIXEL_PATCH = 2  # the 2x2 patchify around the 8x network, together 16x spatial


def build_vae_module(config: VaeConfig) -> WanVideoVAE38:
    """DiffSynth's ``WanVideoVAE38`` around a ``VideoVAE38_`` of ``config``, parameters on meta.

    The wrapper holds the latent mean/std (real CPU tensors); its parameters are created on the
    meta device (DiffSynth's ``skip_model_initialization``, which patches module registration
    process-wide while it runs), so nothing is allocated until weights are assigned.
    """
    with skip_model_initialization():
        wrapper = WanVideoVAE38(z_dim=config.z_dim, dim=config.enc_dim)
        wrapper.model = (
            VideoVAE38_(
                dim=config.enc_dim,
                dec_dim=config.dec_dim,
                z_dim=config.z_dim,
                dim_mult=list(config.dim_mult),
                num_res_blocks=config.num_res_blocks,
                attn_scales=list(config.attn_scales),
                temperal_downsample=list(config.temperal_downsample),
            )
            .eval()
            .requires_grad_(False)
        )
    return wrapper


class WanVae:
    """Frames <-> normalised Wan2.2 latents with a loaded ``WanVideoVAE38``.

    ``module`` must already hold its weights in ``dtype`` (see ``xdub.weights.loading.load_vae``);
    inputs go to whatever device its weights are on when called.
    """

    def __init__(self, module: WanVideoVAE38, *, dtype: torch.dtype) -> None:
        self.module = module
        self.dtype = dtype

    @property
    def device(self) -> torch.device:
        """Where the weights are now (they may move between stages, see ``residency``)."""
        return next(self.module.parameters()).device

    @property
    def z_dim(self) -> int:
        return int(self.module.z_dim)

    @property
    def spatial_factor(self) -> int:
        """Pixels per latent along H and W (16)."""
        return int(self.module.upsampling_factor)

    @torch.no_grad()
    def encode(self, frames: np.ndarray | Tensor) -> Tensor:
        """Encode ``frames (T, H, W, 3) uint8`` RGB, T = 1 + 4k, H and W multiples of 16.

        Returns latents ``(1, 48, (T - 1) // 4 + 1, H / 16, W / 16)`` in the model dtype on the
        model device, normalised as ``(mu - mean) / std``.
        """
        pixels = torch.as_tensor(frames)
        self._check_frames(pixels)
        video = pixels.to(self.device).to(self.dtype) * (2 / 255) - 1
        video = video.permute(3, 0, 1, 2).unsqueeze(0).contiguous()
        return self.module.model.encode(video, self.module.scale)

    def decode_stream(self, latents: Tensor) -> Iterator[np.ndarray]:
        """Decode ``latents (1, 48, T_lat, h, w)`` into ``(t, 16h, 16w, 3) uint8`` frame chunks.

        Chunk 0 holds 1 frame and every later chunk 4 (one latent each), 1 + 4 (T_lat - 1) in
        all. Only the causal cache of one latent step is alive at a time.
        """
        return self.stream_decoder().decode(latents)

    def stream_decoder(self) -> LatentDecoder:
        """A decoder for one latent sequence handed over in pieces (see ``LatentDecoder``)."""
        return LatentDecoder(self)

    def _check_frames(self, pixels: Tensor) -> None:
        if pixels.dtype != torch.uint8 or pixels.ndim != 4 or pixels.shape[-1] != 3:
            raise ValueError(
                f"frames must be (T, H, W, 3) uint8; got {tuple(pixels.shape)} {pixels.dtype}"
            )
        num_frames, height, width, _ = pixels.shape
        if (num_frames - 1) % VAE_TEMPORAL_FACTOR:
            raise ValueError(f"frame count {num_frames} is not 1 + 4k")
        if height % self.spatial_factor or width % self.spatial_factor:
            raise ValueError(
                f"frame size {height}x{width} is not a multiple of {self.spatial_factor}"
            )


class LatentDecoder:
    """Decodes one latent sequence that arrives in pieces, keeping the causal cache between
    them: the pieces' frames, joined, are the frames of the whole sequence."""

    def __init__(self, vae: WanVae) -> None:
        self._vae = vae
        self._feat_cache: list[Tensor | None] = [None] * count_conv3d(vae.module.model.decoder)
        self._num_decoded = 0

    @torch.no_grad()
    def decode(self, latents: Tensor) -> Iterator[np.ndarray]:
        """Decode the next ``latents (1, 48, t, h, w)`` into chunks as ``decode_stream``; exhaust
        it before the next piece."""
        vae = self._vae
        if latents.ndim != 5 or latents.shape[0] != 1 or latents.shape[1] != vae.z_dim:
            raise ValueError(
                f"latents must be (1, {vae.z_dim}, T, h, w); got {tuple(latents.shape)}"
            )
        model = vae.module.model
        mean, inv_std = (
            s.to(dtype=vae.dtype, device=vae.device).view(1, vae.z_dim, 1, 1, 1)
            for s in vae.module.scale
        )
        z = latents.to(device=vae.device, dtype=vae.dtype) / inv_std + mean
        x = model.conv2(z)
        for index in range(x.shape[2]):
            out, self._feat_cache, _ = model.decoder(
                x[:, :, index : index + 1],
                feat_cache=self._feat_cache,
                feat_idx=[0],
                first_chunk=self._num_decoded == 0,
            )
            self._num_decoded += 1
            yield vae_output_to_frames(unpatchify(out, patch_size=_PIXEL_PATCH).clamp_(-1, 1))


def vae_output_to_frames(video: Tensor) -> np.ndarray:
    """``(1, 3, t, H, W)`` in [-1, 1] -> ``(t, H, W, 3) uint8``, truncating as the reference."""
    frames = ((video[0] + 1) * 127.5).clip(0, 255).to(torch.uint8)
    return frames.permute(1, 2, 3, 0).cpu().numpy()

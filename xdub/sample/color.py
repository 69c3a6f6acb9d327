"""Colour correction of generated frames towards the source crop (reference ``color_correction``).

Per frame, in [0, 1] float32: pixels where the channel-mean absolute difference is below 0.07
form a mask; the per-channel mean and unbiased std over the masked pixels of both videos give
``out = (g - mu_g)*sqrt((sd_s^2 + 1e-7)/(sd_g^2 + 1e-7)) + mu_s`` on the whole frame, then
clamp, x255 and truncation to uint8. A frame with an empty mask is returned unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

MASK_THRESHOLD = 0.07
STD_EPSILON = 1e-7
DEFAULT_CHUNK_FRAMES = 16


def _to_unit_channels_first(video: Tensor) -> Tensor:
    """(T, H, W, 3) uint8 -> contiguous (T, 3, H, W) float32 in [0, 1] (``x/255``)."""
    return video.permute(0, 3, 1, 2).contiguous().to(torch.float32) / 255.0


def _unit_mask(gen: Tensor, src: Tensor) -> Tensor:
    """(T, 3, H, W) float32 pair -> (T, H, W) bool: channel-mean |gen - src| < 0.07."""
    return torch.mean(torch.abs(gen - src), dim=1) < MASK_THRESHOLD


def match_mask(generated: Tensor, source: Tensor) -> Tensor:
    """Pixels the statistics are taken over: (T, H, W, 3) uint8 pair -> (T, H, W) bool."""
    return _unit_mask(_to_unit_channels_first(generated), _to_unit_channels_first(source))


def _correct_chunk(generated: Tensor, source: Tensor) -> Tensor:
    """Colour-correct (T, H, W, 3) uint8 frames; returns (T, H, W, 3) uint8."""
    gen = _to_unit_channels_first(generated)
    src = _to_unit_channels_first(source)
    mask = _unit_mask(gen, src)

    num_frames, num_channels = gen.shape[:2]
    stat_shape = (num_frames, num_channels, 1, 1)
    # Identity parameters for empty-mask frames: (g - 0)*1 + 0 == g exactly.
    mean_gen = gen.new_zeros(stat_shape)
    mean_src = gen.new_zeros(stat_shape)
    std_ratio = gen.new_ones(stat_shape)
    has_mask = mask.flatten(1).any(dim=1).tolist()
    for frame, frame_has_mask in enumerate(has_mask):
        if not frame_has_mask:
            continue
        # Gathered as contiguous (3, N) rows, exactly as the reference reduces them: torch's
        # mean/std reduction order depends on the layout, and bits decide uint8 truncation.
        masked_gen = gen[frame][:, mask[frame]]
        masked_src = src[frame][:, mask[frame]]
        mean_gen[frame] = masked_gen.mean(dim=1)[:, None, None]
        mean_src[frame] = masked_src.mean(dim=1)[:, None, None]
        std_gen = masked_gen.std(dim=1)[:, None, None]
        std_src = masked_src.std(dim=1)[:, None, None]
        std_ratio[frame] = torch.sqrt((std_src**2 + STD_EPSILON) / (std_gen**2 + STD_EPSILON))

    adjusted = (gen - mean_gen) * std_ratio + mean_src
    return adjusted.clamp(0, 1).mul(255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def color_correction(
    generated: Tensor, source: Tensor, *, chunk_frames: int = DEFAULT_CHUNK_FRAMES
) -> Tensor:
    """Match ``generated`` (T, H, W, 3) uint8 to ``source`` (same shape); (T, H, W, 3) uint8.

    Runs on the inputs' device, ``chunk_frames`` frames at a time so long clips stay bounded
    (frames are independent, so chunking does not change the result).
    """
    if generated.shape != source.shape or generated.ndim != 4 or generated.shape[-1] != 3:
        raise ValueError(
            f"generated {tuple(generated.shape)} and source {tuple(source.shape)} must both be "
            "(T, H, W, 3)"
        )
    if generated.dtype != torch.uint8 or source.dtype != torch.uint8:
        raise ValueError(f"expected uint8 frames, got {generated.dtype} and {source.dtype}")
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    source = source.to(generated.device)
    chunks = [
        _correct_chunk(generated[i : i + chunk_frames], source[i : i + chunk_frames])
        for i in range(0, generated.shape[0], chunk_frames)
    ]
    return torch.cat(chunks, dim=0)

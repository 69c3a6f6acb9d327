"""LSE-C / LSE-D: SyncNet (Chung & Zisserman 2016, ``syncnet_python``'s ``S`` model) as the
lip-sync literature (Wav2Lip, LatentSync, X-Dub) uses it.

The audio tower embeds ``(N, 1, 13, 20)`` MFCC blocks (0.2 s at 100 Hz); the lip tower embeds
``(N, 3, 5, 224, 224)`` blocks of five 25 fps face crops (BGR, 0..255, not normalised). For
each video block the distances to the audio blocks shifted by -15..15 frames are averaged
over the clip; LSE-D is the smallest mean distance, LSE-C the median minus that minimum.
``syncnet_python`` reports ``offset = 15 - argmin``; ours is its negation (positive when the
audio lags), as in the rest of ``xdub.eval``. Keys match ``syncnet_v2.model`` (a plain
state dict of ``S``: ``netcnnaud.*``, ``netfcaud.*``, ``netcnnlip.*``, ``netfclip.*``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

VIDEO_BLOCK_FRAMES = 5
MFCC_PER_VIDEO_FRAME = 4
"""100 Hz MFCC over 25 fps video."""
AUDIO_BLOCK_STEPS = VIDEO_BLOCK_FRAMES * MFCC_PER_VIDEO_FRAME
LIP_SIZE_PX = 224
MAX_SHIFT_FRAMES = 15


@dataclass(frozen=True)
class SyncNetConfig:
    """Channel widths of the two towers and the embedding size; kernels and strides are fixed
    by the 13x20 MFCC and 224x224 inputs."""

    audio_channels: tuple[int, int, int, int, int, int] = (64, 192, 384, 256, 256, 512)
    lip_channels: tuple[int, int, int, int, int, int] = (96, 256, 256, 256, 256, 512)
    fc_hidden: int = 512
    embed_dim: int = 1024

    @classmethod
    def tiny_for_tests(cls) -> SyncNetConfig:
        return cls((4, 8, 8, 8, 8, 16), (4, 8, 8, 8, 8, 16), 16, 8)


def _conv_block(
    conv: nn.Module, channels: int, dims: int, pool: nn.Module | None
) -> list[nn.Module]:
    norm = nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm3d(channels)
    return [conv, norm, nn.ReLU(inplace=True), *([pool] if pool is not None else [])]


def _audio_tower(c: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    layers += _conv_block(nn.Conv2d(1, c[0], 3, 1, 1), c[0], 2, nn.MaxPool2d(1, 1))
    layers += _conv_block(nn.Conv2d(c[0], c[1], 3, 1, 1), c[1], 2, nn.MaxPool2d(3, (1, 2)))
    layers += _conv_block(nn.Conv2d(c[1], c[2], 3, padding=1), c[2], 2, None)
    layers += _conv_block(nn.Conv2d(c[2], c[3], 3, padding=1), c[3], 2, None)
    layers += _conv_block(nn.Conv2d(c[3], c[4], 3, padding=1), c[4], 2, nn.MaxPool2d(3, 2))
    layers += _conv_block(nn.Conv2d(c[4], c[5], (5, 4)), c[5], 2, None)
    return nn.Sequential(*layers)


def _lip_tower(c: tuple[int, ...]) -> nn.Sequential:
    pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2))
    pool_padded = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
    layers: list[nn.Module] = []
    layers += _conv_block(nn.Conv3d(3, c[0], (5, 7, 7), (1, 2, 2)), c[0], 3, pool)
    layers += _conv_block(
        nn.Conv3d(c[0], c[1], (1, 5, 5), (1, 2, 2), (0, 1, 1)), c[1], 3, pool_padded
    )
    layers += _conv_block(nn.Conv3d(c[1], c[2], (1, 3, 3), padding=(0, 1, 1)), c[2], 3, None)
    layers += _conv_block(nn.Conv3d(c[2], c[3], (1, 3, 3), padding=(0, 1, 1)), c[3], 3, None)
    layers += _conv_block(
        nn.Conv3d(c[3], c[4], (1, 3, 3), padding=(0, 1, 1)),
        c[4],
        3,
        nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
    )
    layers += _conv_block(nn.Conv3d(c[4], c[5], (1, 6, 6)), c[5], 3, None)
    return nn.Sequential(*layers)


def _head(width: int, hidden: int, embed: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, embed)
    )


class SyncNet(nn.Module):
    """The two towers; ``embed_audio``/``embed_lips`` give ``(N, embed_dim)``."""

    def __init__(self, config: SyncNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SyncNetConfig()
        self.netcnnaud = _audio_tower(config.audio_channels)
        self.netfcaud = _head(config.audio_channels[-1], config.fc_hidden, config.embed_dim)
        self.netcnnlip = _lip_tower(config.lip_channels)
        self.netfclip = _head(config.lip_channels[-1], config.fc_hidden, config.embed_dim)

    def embed_audio(self, mfcc_blocks: Tensor) -> Tensor:
        """``(N, 1, 13, 20)`` float MFCC -> ``(N, embed_dim)``."""
        return self.netfcaud(self.netcnnaud(mfcc_blocks).flatten(1))

    def embed_lips(self, lip_blocks: Tensor) -> Tensor:
        """``(N, 3, 5, 224, 224)`` float BGR 0..255 -> ``(N, embed_dim)``."""
        return self.netfclip(self.netcnnlip(lip_blocks).flatten(1))


@dataclass(frozen=True)
class LseResult:
    """``lse_d``: min mean distance; ``lse_c``: median minus min; ``mean_distances (31,)``
    per audio shift -15..15 video frames; ``offset_frames``: positive when the audio lags."""

    lse_d: float
    lse_c: float
    offset_frames: int
    mean_distances: np.ndarray


@torch.no_grad()
def lse(
    model: SyncNet,
    faces_bgr: np.ndarray,
    mfcc_features: np.ndarray,
    *,
    max_shift_frames: int = MAX_SHIFT_FRAMES,
    batch_size: int = 20,
) -> LseResult:
    """LSE of ``faces_bgr (T, 224, 224, 3)`` uint8 25 fps face crops against
    ``mfcc_features (13, M)`` 100 Hz (``xdub.eval.mfcc.mfcc``). Needs ``T >= 6``."""
    param = next(model.parameters())
    num_blocks = min(len(faces_bgr), mfcc_features.shape[1] // MFCC_PER_VIDEO_FRAME)
    num_blocks -= VIDEO_BLOCK_FRAMES
    if num_blocks < 1:
        raise ValueError(f"LSE needs at least {VIDEO_BLOCK_FRAMES + 1} frames of video and audio")
    video = torch.from_numpy(np.ascontiguousarray(faces_bgr)).permute(3, 0, 1, 2)
    audio = torch.from_numpy(np.ascontiguousarray(mfcc_features))
    lips, sounds = [], []
    for start in range(0, num_blocks, batch_size):
        starts = range(start, min(num_blocks, start + batch_size))
        lip_in = torch.stack([video[:, i : i + VIDEO_BLOCK_FRAMES] for i in starts])
        aud_in = torch.stack(
            [
                audio[
                    None, :, i * MFCC_PER_VIDEO_FRAME : i * MFCC_PER_VIDEO_FRAME + AUDIO_BLOCK_STEPS
                ]
                for i in starts
            ]
        )
        lips.append(model.embed_lips(lip_in.to(param.device, param.dtype)).float().cpu())
        sounds.append(model.embed_audio(aud_in.to(param.device, param.dtype)).float().cpu())
    lip_feats, audio_feats = torch.cat(lips), torch.cat(sounds)
    distances = shifted_distances(lip_feats, audio_feats, max_shift_frames)
    mean = distances.mean(dim=0)
    best = int(torch.argmin(mean))
    minimum = float(mean[best])
    return LseResult(
        lse_d=minimum,
        lse_c=float(torch.median(mean)) - minimum,
        offset_frames=best - max_shift_frames,
        mean_distances=mean.numpy(),
    )


def shifted_distances(lip_feats: Tensor, audio_feats: Tensor, max_shift: int) -> Tensor:
    """``(T, 2S + 1)``: distance of lip block ``t`` to audio block ``t + s``, s = -S..S; audio
    beyond the ends is zero (as ``syncnet_python``'s ``calc_pdist`` pads)."""
    padded = nn.functional.pad(audio_feats, (0, 0, max_shift, max_shift))
    window = 2 * max_shift + 1
    rows = [
        nn.functional.pairwise_distance(
            lip_feats[t : t + 1].expand(window, -1), padded[t : t + window]
        )
        for t in range(len(lip_feats))
    ]
    return torch.stack(rows)

"""Per-latent-frame audio windows (reference ``crop_overlap_audio_window``).

Video runs at 25 fps and both feature streams at 50 Hz, so video frame v maps to feature row 2v.
For a clip starting at video frame s, latent 0 (frame s alone) takes rows
``[2s - 6 - 2w, 2s + 2 + 2w)`` (past context), and latent i >= 1 (frames v..v+3,
``v = s + 4(i-1) + 1``) takes rows ``[2v - 2w, 2v + 8 + 2w)``. Rows are clamped to the feature
range, so frames past either end repeat the first or last feature row.
"""

from __future__ import annotations

import torch
from torch import Tensor

from xdub.errors import MediaError
from xdub.sample.windows import (
    CLIP_NUM_FRAMES,
    VAE_TEMPORAL_FACTOR,
    VIDEO_FPS,
    num_latent_frames,
)

FEATURE_RATE_HZ = 50
ROWS_PER_VIDEO_FRAME = FEATURE_RATE_HZ // VIDEO_FPS


def window_indices(
    num_feature_rows: int,
    start_frame: int,
    num_frames: int = CLIP_NUM_FRAMES,
    window_size: int = 0,
) -> Tensor:
    """Feature rows gathered for each latent frame: (num_latent_frames, 8 + 4w) int64."""
    if num_feature_rows < 1:
        raise MediaError("the audio produced no feature frames", code="no_audio")
    ratio = ROWS_PER_VIDEO_FRAME
    latent = torch.arange(num_latent_frames(num_frames), dtype=torch.int64)
    first_frame = torch.where(
        latent == 0, start_frame, start_frame + (latent - 1) * VAE_TEMPORAL_FACTOR + 1
    )
    # Latent 0 looks back over the 3 frames before it; the others cover their own 4 frames.
    frames_back = torch.where(latent == 0, VAE_TEMPORAL_FACTOR - 1, 0) + window_size
    left = (first_frame - frames_back) * ratio
    width = (VAE_TEMPORAL_FACTOR + 2 * window_size) * ratio
    rows = left[:, None] + torch.arange(width, dtype=torch.int64)
    return rows.clamp(0, num_feature_rows - 1)


def audio_windows(
    features: Tensor,
    start_frame: int,
    num_frames: int = CLIP_NUM_FRAMES,
    window_size: int = 0,
) -> Tensor:
    """Window 50 Hz ``features`` (F_audio, C) for the clip at ``start_frame``.

    Returns (num_latent_frames, 8 + 4w, C) in the features' dtype and device (20 x 8 for the
    77-frame clips of the released model, w = 0).
    """
    if features.ndim != 2:
        raise ValueError(f"features must be (F_audio, C), got {tuple(features.shape)}")
    rows = window_indices(features.shape[0], start_frame, num_frames, window_size)
    return features[rows.to(features.device)]


def latent_audio_features(
    whisper: Tensor,
    wav2vec: Tensor,
    start_frame: int,
    num_frames: int = CLIP_NUM_FRAMES,
    window_size: int = 0,
) -> Tensor:
    """Model audio input for one clip: (1, num_latent_frames, 8 + 4w, C_whisper + C_wav2vec).

    ``whisper`` (F_w, 1280) and ``wav2vec`` (F_v, 768) at 50 Hz are windowed separately (their
    lengths may differ) and concatenated whisper first: (1, 20, 8, 2048) in production.
    """
    whisper_win = audio_windows(whisper, start_frame, num_frames, window_size)
    wav2vec_win = audio_windows(wav2vec, start_frame, num_frames, window_size)
    return torch.cat([whisper_win, wav2vec_win.to(whisper_win.dtype)], dim=-1).unsqueeze(0)

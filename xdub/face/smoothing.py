"""Temporal smoothing passes of the crop track: centred moving averages and Savitzky-Golay.

Every function takes a track with frames on axis 0 (``(F,)``, ``(F, 4)``, ``(F, 79, 2)`` ...)
and reproduces X-Dub's ``lip_sync_preprocess`` helpers bit for bit, vectorised over frames.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike
from scipy.signal import savgol_filter


def normalize_window_length(window_length: int, size: int, minimum: int = 3) -> int:
    """An odd window of at least ``minimum`` that fits ``size`` samples (1 for ``size <= 1``)."""
    if size <= 1:
        return 1
    window_length = min(window_length, size)
    if window_length % 2 == 0:
        window_length -= 1
    window_length = max(minimum, window_length)
    if window_length > size:
        window_length = size if size % 2 == 1 else size - 1
    return max(1, window_length)


def centred_mean(track: np.ndarray, window: int, dtype: DTypeLike = np.float32) -> np.ndarray:
    """Mean over frames ``[f - window//2, f + window//2]``, truncated at both ends, as ``dtype``.

    An even ``window`` still spans ``window + 1`` frames, as X-Dub's ``window_smooth``. A track
    of one frame (or none) comes back unchanged, dtype included. Frames sharing a window length
    are reduced together by one ``np.mean``, so the summation order (and the float32 rounding)
    is the reference's own.
    """
    num_frames = len(track)
    if num_frames <= 1:
        return track
    frames = np.arange(num_frames)
    starts = np.maximum(0, frames - window // 2)
    counts = np.minimum(num_frames, frames + window // 2 + 1) - starts
    smoothed = np.empty(track.shape, dtype=dtype)
    for count in np.unique(counts):
        rows = np.flatnonzero(counts == count)
        gather = starts[rows, None] + np.arange(count)
        smoothed[rows] = np.mean(track[gather], axis=1)
    return smoothed


def savgol_edge_padded(track: np.ndarray, window_length: int, polyorder: int) -> np.ndarray:
    """Savitzky-Golay along frames on an edge-padded copy (X-Dub's ``sg_smooth``); float32.

    The window is normalised to the track length; tracks of two frames or fewer come back
    unchanged.
    """
    num_frames = len(track)
    if num_frames <= 2:
        return track
    window_length = normalize_window_length(window_length, num_frames, minimum=3)
    polyorder = min(polyorder, window_length - 1)
    pad = window_length // 2
    padded = np.pad(track, [(pad, pad)] + [(0, 0)] * (track.ndim - 1), mode="edge")
    smoothed = savgol_filter(padded, window_length, polyorder, axis=0)
    return smoothed[pad : pad + num_frames].astype(np.float32)


def savgol_mirror_passes(track: np.ndarray, num_passes: int) -> np.ndarray:
    """``num_passes`` Savitzky-Golay passes (order 2, mirror ends), windows 15, 19, 23 ...

    Each window is odd, at least 5 and capped at the frame count. Keeps the dtype of ``track``.
    """
    num_frames = len(track)
    base_window = normalize_window_length(15, num_frames, minimum=5)
    for pass_index in range(num_passes):
        window_length = normalize_window_length(base_window + pass_index * 4, num_frames, 5)
        polyorder = min(2, window_length - 1)
        if window_length <= polyorder:
            continue
        track = savgol_filter(track, window_length, polyorder, axis=0, mode="mirror")
    return track

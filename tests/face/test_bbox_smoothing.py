"""Smoothing passes of the crop track: window arithmetic and vectorised == per-frame."""

from __future__ import annotations

import numpy as np
import pytest

from xdub.face.smoothing import (
    centred_mean,
    normalize_window_length,
    savgol_edge_padded,
    savgol_mirror_passes,
)


@pytest.mark.parametrize("shape", [(), (4,), (79, 2)])
@pytest.mark.parametrize("num_frames", [2, 9, 60])
def test_centred_mean_equals_per_frame_mean(shape: tuple[int, ...], num_frames: int) -> None:
    rng = np.random.default_rng(num_frames)
    track = (rng.standard_normal((num_frames, *shape)) * 100).astype(np.float32)
    for window in (3, 4, 5, 7, 11, 17):
        half = window // 2
        expected = np.stack(
            [np.mean(track[max(0, f - half) : f + half + 1], axis=0) for f in range(num_frames)]
        )
        # exact: the same float32 reduction per frame, only grouped
        np.testing.assert_array_equal(centred_mean(track, window), expected)


def test_centred_mean_even_window_spans_one_more_frame() -> None:
    track = np.arange(10, dtype=np.float64)
    np.testing.assert_array_equal(centred_mean(track, 4)[2:8], track[2:8])  # 5-frame window
    assert centred_mean(track, 4)[0] == pytest.approx(1.0)  # frames 0..2
    assert centred_mean(track, 4).dtype == np.float32


def test_centred_mean_keeps_a_single_frame() -> None:
    track = np.array([[1.5, 2.5, 3.5, 4.5]])
    assert centred_mean(track, 5) is track


def test_window_length_is_odd_and_fits() -> None:
    for size in range(1, 30):
        for window in range(1, 40):
            length = normalize_window_length(window, size, minimum=5)
            assert length % 2 == 1 and 1 <= length <= size


def test_savgol_keeps_a_quadratic_away_from_the_ends() -> None:
    frames = np.arange(40, dtype=np.float64)
    quadratic = (0.02 * frames**2 - frames + 3).astype(np.float32)
    smoothed = savgol_edge_padded(quadratic, 25, 2)
    # atol 1e-4: float32 storage of values up to ~30; ends differ because of the edge padding
    np.testing.assert_allclose(smoothed[12:-12], quadratic[12:-12], atol=1e-4)
    np.testing.assert_array_equal(savgol_edge_padded(quadratic[:2], 25, 2), quadratic[:2])


def test_mirror_passes_keep_dtype_and_remove_jitter() -> None:
    rng = np.random.default_rng(0)
    track = (0.5 + 0.01 * rng.standard_normal((80, 79, 2))).astype(np.float32)
    smoothed = savgol_mirror_passes(track, 5)
    assert smoothed.dtype == np.float32 and smoothed.shape == track.shape
    assert np.std(np.diff(smoothed, axis=0)) < 0.1 * np.std(np.diff(track, axis=0))

"""Preservation outside the mouth and window seams, on takes made from the synthetic source."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from xdub.eval.evaluate import EvalInputs, evaluate_take
from xdub.eval.mouth import truth_track
from xdub.eval.preservation import PreservationMeter, keep_mask, psnr_db
from xdub.eval.seams import near_seam, seam_starts


@pytest.fixture(scope="module")
def mouth(talking_clip):
    return truth_track(talking_clip.truth)


def test_a_take_identical_outside_the_mouth_has_infinite_psnr_there(
    talking_clip, mouth, make_take
) -> None:
    rng = np.random.default_rng(0)

    def scramble_mouth(index: int, rgb: np.ndarray) -> np.ndarray:
        out = rgb.copy()
        mask = ~keep_mask(rgb.shape[0], rgb.shape[1], mouth.boxes[index])
        out[mask] = rng.integers(0, 256, size=(int(mask.sum()), 3), dtype=np.uint8)
        return out

    source = make_take(talking_clip.video, lambda i, rgb: rgb, "source.mkv")
    take = make_take(talking_clip.video, scramble_mouth, "mouth_only.mkv")
    report = evaluate_take(source, take, EvalInputs(mouth=mouth))
    assert math.isinf(report.preservation.psnr_db)
    assert report.preservation.ssim == pytest.approx(1.0)
    assert report.preservation.flicker == pytest.approx(0.0)
    # The same take over whole frames (no mouth region) does differ: the mouth was changed.
    whole = evaluate_take(source, take)
    assert math.isfinite(whole.preservation.psnr_db)
    assert whole.preservation.region_source.startswith("whole frame")


def test_a_blurred_take_has_lower_psnr_and_ssim(talking_clip, mouth, make_take) -> None:
    source = make_take(talking_clip.video, lambda i, rgb: rgb, "source.mkv")
    light = make_take(
        talking_clip.video, lambda i, rgb: cv2.GaussianBlur(rgb, (0, 0), 0.6), "light.mkv"
    )
    heavy = make_take(
        talking_clip.video, lambda i, rgb: cv2.GaussianBlur(rgb, (0, 0), 2.0), "heavy.mkv"
    )
    light_report = evaluate_take(source, light, EvalInputs(mouth=mouth))
    heavy_report = evaluate_take(source, heavy, EvalInputs(mouth=mouth))
    assert 20.0 < heavy_report.preservation.psnr_db < light_report.preservation.psnr_db < 60.0
    assert heavy_report.preservation.ssim < light_report.preservation.ssim < 1.0
    assert "outside-mouth PSNR" in " ".join(heavy_report.flags(min_psnr_db=40.0))
    assert len(heavy_report.worst_frames) == 4
    assert heavy_report.worst_frames[0].png.startswith(b"\x89PNG")


def test_flicker_counts_what_the_take_adds_to_the_source_motion() -> None:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 200, size=(32, 32, 3), dtype=np.uint8) for _ in range(3)]
    meter = PreservationMeter()
    steady = [meter.measure(f, f, None).flicker for f in frames]
    assert steady == [0.0, 0.0, 0.0]
    meter = PreservationMeter()
    shaky = [meter.measure(f, f + np.uint8(i % 2 * 10), None).flicker for i, f in enumerate(frames)]
    assert shaky[1] > 0 and shaky[2] > 0


def test_psnr_of_a_known_error() -> None:
    assert psnr_db(0.0) == math.inf
    assert psnr_db(255.0**2) == pytest.approx(0.0)
    assert psnr_db(1.0) == pytest.approx(48.1308, abs=1e-3)


def test_seams_are_the_window_overlaps_at_25_fps() -> None:
    assert seam_starts(77) == []
    assert seam_starts(100) == [72]
    assert seam_starts(300) == [72, 144, 216, 288]
    times = np.arange(100) / 25.0
    near = near_seam(times, [72])
    assert np.flatnonzero(near).tolist() == list(range(70, 79))  # 72..76 overlap, 2 each side
    # A 50 fps take: twice the frames over the same model frames.
    assert near_seam(np.arange(200) / 50.0, [72]).sum() == 18


def test_a_seam_dip_shows_near_the_seam_and_not_elsewhere(talking_clip, mouth, make_take) -> None:
    def dip_at_seam(index: int, rgb: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(rgb, (0, 0), 1.5) if 72 <= index < 77 else rgb

    source = make_take(talking_clip.video, lambda i, rgb: rgb, "source.mkv")
    take = make_take(talking_clip.video, dip_at_seam, "seam.mkv")
    report = evaluate_take(source, take, EvalInputs(mouth=mouth))
    seams = report.seams
    assert seams.seam_times_s == (72 / 25,)
    assert seams.num_near_frames == 9
    assert math.isinf(seams.psnr_elsewhere_db)
    assert seams.psnr_near_db is not None and seams.psnr_near_db < 40
    assert seams.psnr_drop_db == math.inf
    assert seams.flicker_rise is not None and seams.flicker_rise > 0

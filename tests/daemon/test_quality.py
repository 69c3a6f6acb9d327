"""The daemon's quality check of each take: computed in the worker, stored with the job,
returned by ``get``/``list``; a failing check never fails the job."""

from __future__ import annotations

import numpy as np

from xdub.protocol.records import PSNR_IDENTICAL_DB, JobState, TakeQuality
from xdub_daemon.quality import take_quality


def test_a_finished_job_carries_its_take_quality(running_daemon, two_window_clip, fast_options):
    with running_daemon.client() as client:
        job = client.wait(client.submit(two_window_clip.otio, fast_options()).job_id, 300)
        listed = [j for j in client.list_jobs() if j.job_id == job.job_id]
    assert job.state is JobState.DONE, job.error
    quality = job.quality
    assert quality is not None and quality.is_available, quality
    assert quality.psnr_db is not None and 0 < quality.psnr_db <= PSNR_IDENTICAL_DB
    assert quality.ssim is not None and 0 < quality.ssim <= 1
    assert quality.flicker is not None
    assert quality.seam_psnr_drop_db is not None  # 80 frames: one seam at model frame 72
    # The tiny model's landmarks are noise: no sync number, and the note says why.
    assert quality.sync_offset_frames is None and not quality.sync_is_reliable
    assert quality.note == "sync skipped: the face landmarks are test weights"
    assert not any(flag.startswith("lips off") for flag in quality.flags)
    assert listed[0].quality == quality


def test_the_check_of_an_unreadable_take_is_unavailable_not_an_error(tmp_path) -> None:
    missing = tmp_path / "missing.mp4"
    quality = take_quality(
        missing, missing, tmp_path / "dialogue.wav", crop_boxes=np.zeros((1, 4), np.int64)
    )
    assert isinstance(quality, TakeQuality) and not quality.is_available
    assert "quality check failed" in quality.note and quality.psnr_db is None


def test_the_check_of_a_take_identical_to_its_source(running_daemon, short_clip) -> None:
    boxes = np.tile(np.array([[20, 20, 76, 76]]), (100, 1))
    quality = take_quality(short_clip.video, short_clip.video, short_clip.audio, crop_boxes=boxes)
    assert quality.is_available and quality.psnr_db == PSNR_IDENTICAL_DB
    assert quality.flags == () and quality.sync_offset_frames is None  # no landmark networks


def test_a_tight_budget_gives_a_partial_check(short_clip) -> None:
    boxes = np.tile(np.array([[20, 20, 76, 76]]), (100, 1))
    quality = take_quality(
        short_clip.video, short_clip.video, short_clip.audio, crop_boxes=boxes, budget_s=0.0
    )
    assert quality.is_available and quality.is_partial

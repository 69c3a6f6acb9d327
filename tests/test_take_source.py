"""The take's source passes without a model: the landmark pass fills the spool in one decode,
the spool gives the crops and paste frames a second decode gives, in flat memory; and the
rule that decides whether a take spools at all."""

from __future__ import annotations

import logging
import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from support.reads import ReadCounter
from support.small_fs import fill, small_filesystem

from xdub.errors import MediaError
from xdub.face.crop_store import CropStore
from xdub.media.decode import iter_frames
from xdub.media.frame_ring import FrameRing
from xdub.media.frame_spool import FrameSpool
from xdub.media.probe import scan_media
from xdub.media.synthetic import SyntheticVideoSpec, write_synthetic_video
from xdub.take_plan import TakePlan, plan_take
from xdub.take_source import SourcePass, SpoolPass, model_frames, open_spool

CROP_SIZE = 32


def _plan(folder: Path, fps: Fraction, duration_s: float, first: int, count: int) -> TakePlan:
    video = folder / "clip.mp4"
    spec = SyntheticVideoSpec(width=96, height=64, fps=fps, duration_s=duration_s, seed=2)
    write_synthetic_video(video, spec)
    return plan_take(scan_media(video), (first, count))


def _spool(plan: TakePlan, folder: Path) -> FrameSpool:
    info = plan.info
    return FrameSpool(folder / "spool", info.num_frames, info.display_height, info.display_width)


@pytest.mark.parametrize("fps", [Fraction(30), Fraction(30000, 1001), Fraction(50)])
def test_the_landmark_pass_spools_every_dubbed_frame_in_its_one_decode(
    tmp_path: Path, fps: Fraction, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(tmp_path, fps, 2.0, first=7, count=40)  # a frame range: first_frame > 0
    plain = [frame.copy() for frame in model_frames(plan)]
    reads = ReadCounter().install(monkeypatch)
    with _spool(plan, tmp_path) as spool:
        spooled = [frame.copy() for frame in model_frames(plan, spool)]
        path = plan.path.resolve()
        assert reads.opens[path] == 1 and reads.frames[path] == 7 + 40  # each frame once
        assert len(spooled) == plan.num_model_frames and len(plain) == len(spooled)
        for a, b in zip(plain, spooled, strict=True):
            np.testing.assert_array_equal(a, b)
        source = [f.rgb for f in iter_frames(plan.path) if 7 <= f.index < 47]
        for index, frame in enumerate(source):
            np.testing.assert_array_equal(spool.read(index), frame)


@pytest.mark.parametrize("fps", [Fraction(30000, 1001), Fraction(25)])
def test_the_spool_gives_the_crops_and_paste_frames_of_a_second_decode(
    tmp_path: Path, fps: Fraction
) -> None:
    plan = _plan(tmp_path, fps, 2.0, first=5, count=44)
    boxes = np.tile(np.array([8, 4, 72, 60]), (plan.num_model_frames, 1))
    count = plan.info.num_frames
    decoded = CropStore(tmp_path / "decoded.npy", plan.num_model_frames, CROP_SIZE)
    ring = FrameRing(tmp_path / "ring", count, plan.info.display_height, plan.info.display_width)
    second = SourcePass(plan, boxes, decoded, CROP_SIZE, ring, lambda: None)
    with _spool(plan, tmp_path) as spool:
        for _ in model_frames(plan, spool):
            pass
        spooled = CropStore(tmp_path / "spooled.npy", plan.num_model_frames, CROP_SIZE)
        first = SpoolPass(plan, boxes, spooled, CROP_SIZE, spool, lambda: None)
        for stop in (10, 30, count):  # window by window, as the schedule asks
            second.decode_until(stop)
            first.decode_until(stop)
        every = list(range(plan.num_model_frames))
        np.testing.assert_array_equal(spooled.frames(every), decoded.frames(every))
        for index in range(count):
            np.testing.assert_array_equal(first.frame(index), second.frame(index))
    second.close()
    ring.close()


def test_spooling_keeps_one_frame_in_memory_not_the_clip(tmp_path: Path) -> None:
    plan = _plan(tmp_path, Fraction(30), 6.0, first=0, count=180)
    frame_bytes = plan.info.display_height * plan.info.display_width * 3
    with _spool(plan, tmp_path) as spool:
        tracemalloc.start()
        try:
            for _ in model_frames(plan, spool):
                pass
            _, peak_bytes = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert spool.path.stat().st_size == 180 * frame_bytes
    assert peak_bytes < 20 * frame_bytes  # 180 frames spooled, a handful ever in memory


def test_auto_spools_where_there_is_room_and_off_never(tmp_path: Path) -> None:
    plan = _plan(tmp_path, Fraction(25), 0.4, first=0, count=10)
    assert open_spool(plan, tmp_path, "off") is None
    spool = open_spool(plan, tmp_path, "auto")
    assert spool is not None and spool.path.parent == tmp_path
    spool.close()
    with pytest.raises(ValueError, match="spool mode"):
        open_spool(plan, tmp_path, "always")


def test_a_small_disk_falls_back_to_a_second_decode_unless_spooling_is_forced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(tmp_path, Fraction(25), 1.0, first=0, count=25)  # 460 KB of frames
    with small_filesystem(tmp_path / "small") as small:
        fill(small, 600 * 1024)  # fits, but takes more than half the free space
        with caplog.at_level(logging.INFO, logger="xdub.take_source"):
            assert open_spool(plan, small, "auto") is None
        assert "decoding the source twice" in caplog.text
        fill(small, 200 * 1024)  # does not fit at all
        with pytest.raises(MediaError) as caught:
            open_spool(plan, small, "on")
        assert caught.value.code == "disk_full"
        # the space went between the check and the reservation: still a fallback
        free = type("Usage", (), {"free": 10**12})()
        monkeypatch.setattr("xdub.take_source.shutil.disk_usage", lambda _folder: free)
        assert open_spool(plan, small, "auto") is None
        assert sorted(p.name for p in small.iterdir()) == ["filler.bin"]

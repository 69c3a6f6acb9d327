"""The cut of a source shows the same frames at the same job times: long-GOP H.264 with
B-frames from the key frame before the in-point, intra-only codecs from the in-point itself,
with the display rotation kept and the timecode moved to the cut's first frame."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import pytest
from support.cut_media import FPS, frames_md5_between, write_video

from xdub.media.cut import cut_video_range
from xdub.media.probe import probe
from xdub.media.synthetic import SyntheticVideoSpec, write_synthetic_video


def _same_frames(src: Path, dst: Path, start: Fraction, end: Fraction, offset: Fraction) -> None:
    whole = frames_md5_between(src, start, end)
    assert len(whole) == round((end - start) * FPS)
    assert frames_md5_between(dst, start - offset, end - offset) == whole


def test_mid_gop_cut_keeps_the_used_frames(tmp_path: Path) -> None:
    src, dst = tmp_path / "long.mp4", tmp_path / "cut.mp4"
    write_video(src, 300)
    start, end = Fraction(130, FPS), Fraction(170, FPS)
    cut = cut_video_range(src, dst, float(start), float(end))
    assert cut is not None and cut.offset_s == Fraction(100, FPS) and cut.first_frame == 100
    assert dst.stat().st_size < src.stat().st_size / 2
    _same_frames(src, dst, start, end, cut.offset_s)


def test_most_of_the_file_goes_whole(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "long.mp4"
    write_video(src, 100)
    with caplog.at_level(logging.INFO, logger="xdub.media.cut"):
        assert cut_video_range(src, tmp_path / "cut.mp4", 0.0, 3.9) is None
    assert "the job uses most of it" in caplog.text


@pytest.mark.parametrize("codec", ["h264", "h264-open-gop", "hevc"])
def test_out_point_at_a_key_frame_keeps_the_reordered_tail(tmp_path: Path, codec: str) -> None:
    """The out-point is the key frame at 4 s; with an open GOP the frames shown just before it
    are decoded after it (its leading pictures), and they are in the cut."""
    src, dst = tmp_path / "long.mp4", tmp_path / "cut.mp4"
    write_video(src, 300, codec)
    start, end = Fraction(60, FPS), Fraction(100, FPS)
    cut = cut_video_range(src, dst, float(start), float(end))
    assert cut is not None and cut.offset_s == Fraction(50, FPS)
    _same_frames(src, dst, start, end, cut.offset_s)


def test_the_same_cut_is_the_same_bytes(tmp_path: Path) -> None:
    src = tmp_path / "long.mp4"
    write_video(src, 300)
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    assert cut_video_range(src, first, 2.0, 3.0) is not None
    assert cut_video_range(src, second, 2.0, 3.0) is not None
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("codec", ["mjpeg", "prores", "dnxhr"])
def test_an_intra_only_source_is_cut_at_the_in_point(tmp_path: Path, codec: str) -> None:
    src, dst = tmp_path / f"{codec}.mov", tmp_path / "cut.mov"
    write_video(src, 60, codec)
    start, end = Fraction(37, FPS), Fraction(45, FPS)
    cut = cut_video_range(src, dst, float(start), float(end))
    assert cut is not None and cut.offset_s == start and cut.first_frame == 37
    assert probe(dst).num_frames == 9  # the used 8 and the key frame after the out-point
    _same_frames(src, dst, start, end, cut.offset_s)


@pytest.mark.parametrize(("codec", "suffix"), [("h264", ".mp4"), ("prores", ".mov")])
def test_the_cut_keeps_the_rotation_and_moves_the_timecode(
    tmp_path: Path, codec: str, suffix: str
) -> None:
    """A phone's portrait clip (stored landscape, display matrix -90) and an editor's start
    timecode (the .mov/.mp4 timecode track): the cut shows upright and starts at its own
    first frame's timecode."""
    src, dst = tmp_path / f"src{suffix}", tmp_path / f"cut{suffix}"
    spec = SyntheticVideoSpec(
        width=48, height=64, duration_s=12.0, codec=codec, rotation_deg=-90, timecode="01:00:00:00"
    )
    write_synthetic_video(src, spec)
    source = probe(src)
    cut = cut_video_range(src, dst, 9.6, 10.0, timecode=source.timecode, fps=source.fps)
    assert cut is not None
    info = probe(dst)
    assert (info.rotation_deg, info.display_width, info.display_height) == (-90, 48, 64)
    seconds, frames = divmod(cut.first_frame, FPS)
    assert cut.timecode == info.timecode == f"01:00:{seconds:02d}:{frames:02d}"
    assert (cut.first_frame == 240) is (codec == "prores")  # H.264: the key frame before

"""The cut of a long-GOP H.264 file with B-frames shows the same frames at the same job times."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from xdub.media.cut import cut_video_range

FPS = 25


def _write_h264(path: Path, frames: int) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(
            "libx264", rate=FPS, options={"g": "50", "bf": "3", "x264-params": "scenecut=0"}
        )
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(0)
        for i in range(frames):
            image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            image[:8, :8] = i % 256
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _frames_md5(path: Path, start: Fraction, end: Fraction) -> list[str]:
    with av.open(str(path)) as source:
        stream = source.streams.video[0]
        digests = []
        for frame in source.decode(stream):
            assert frame.pts is not None and stream.time_base is not None
            t = frame.pts * stream.time_base
            if start <= t < end:
                digests.append(hashlib.md5(frame.to_ndarray(format="rgb24").tobytes()).hexdigest())
        return digests


def test_mid_gop_cut_keeps_the_used_frames(tmp_path: Path) -> None:
    src, dst = tmp_path / "long.mp4", tmp_path / "cut.mp4"
    _write_h264(src, 300)
    start, end = Fraction(130, FPS), Fraction(170, FPS)
    cut = cut_video_range(src, dst, float(start), float(end))
    assert cut is not None and cut.offset_s == Fraction(100, FPS)
    assert dst.stat().st_size < src.stat().st_size / 2
    whole = _frames_md5(src, start, end)
    assert len(whole) == 40
    assert _frames_md5(dst, start - cut.offset_s, end - cut.offset_s) == whole


def test_most_of_the_file_goes_whole(tmp_path: Path) -> None:
    src = tmp_path / "long.mp4"
    _write_h264(src, 100)
    assert cut_video_range(src, tmp_path / "cut.mp4", 0.0, 3.9) is None


def test_out_point_just_before_a_key_frame_keeps_the_reordered_tail(tmp_path: Path) -> None:
    src, dst = tmp_path / "long.mp4", tmp_path / "cut.mp4"
    _write_h264(src, 300)
    start, end = Fraction(60, FPS), Fraction(100, FPS)
    cut = cut_video_range(src, dst, float(start), float(end))
    assert cut is not None and cut.offset_s == Fraction(50, FPS)
    whole = _frames_md5(src, start, end)
    assert len(whole) == 40
    assert _frames_md5(dst, start - cut.offset_s, end - cut.offset_s) == whole


def test_the_same_cut_is_the_same_bytes(tmp_path: Path) -> None:
    src = tmp_path / "long.mp4"
    _write_h264(src, 300)
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    assert cut_video_range(src, first, 2.0, 3.0) is not None
    assert cut_video_range(src, second, 2.0, 3.0) is not None
    assert first.read_bytes() == second.read_bytes()

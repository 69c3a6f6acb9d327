"""Sources for the used-range cut tests: long-GOP and intra-only files, decoded frames by time."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.video.stream import VideoStream

FPS = 25
CODECS: dict[str, tuple[str, str, dict[str, str], tuple[int, int]]] = {
    "h264": ("libx264", "yuv420p", {"g": "50", "bf": "3", "x264-params": "scenecut=0"}, (64, 48)),
    "h264-open-gop": (
        "libx264",
        "yuv420p",
        {"g": "50", "bf": "3", "x264-params": "scenecut=0:open-gop=1"},
        (64, 48),
    ),
    "hevc": (
        "libx265",
        "yuv420p",
        {"x265-params": "keyint=50:min-keyint=50:scenecut=0:bframes=3:log-level=error"},
        (64, 48),
    ),
    "mjpeg": ("mjpeg", "yuvj420p", {}, (64, 48)),
    "prores": ("prores_ks", "yuv422p10le", {"profile": "3"}, (64, 48)),
    "dnxhr": ("dnxhd", "yuv422p", {"profile": "dnxhr_sq"}, (256, 128)),
}
"""Codec -> (encoder, pixel format, options, (width, height)): H.264 with a 2 s GOP and
B-frames (closed, and open: B-frames shown before a key frame are decoded after it), HEVC
(x265's default open GOP: CRA key frames with leading pictures, as phones write), and the
intra-only codecs editors use (every frame a key frame; DNxHR is at least 256 x 120)."""


def write_video(
    path: Path,
    num_frames: int,
    codec: str = "h264",
    *,
    timecode: str | None = None,
    start_frame: int = 0,
) -> None:
    """``num_frames`` frames of noise (each numbered in its corner) at ``FPS`` to ``path``,
    the first shown at ``start_frame / FPS`` (cameras' files often start after 0)."""
    encoder, pixel_format, options, (width, height) = CODECS[codec]
    with av.open(str(path), "w") as out:
        stream = cast(VideoStream, out.add_stream(encoder, rate=FPS, options=options))
        stream.width, stream.height, stream.pix_fmt = width, height, pixel_format
        if timecode is not None:
            stream.metadata["timecode"] = timecode
        rng = np.random.default_rng(0)
        for i in range(num_frames):
            image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            image[:8, :8] = i % 256
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pixel_format)
            frame.pts, frame.time_base = start_frame + i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def frames_md5_between(path: Path, start: Fraction, end: Fraction) -> list[str]:
    """md5 of each decoded RGB frame of ``path`` shown in ``[start, end)`` seconds since its
    first frame (as ``FrameTimes.relative_s`` counts)."""
    with av.open(str(path)) as source:
        stream = source.streams.video[0]
        assert stream.time_base is not None
        shown = [(frame.pts, frame.to_ndarray(format="rgb24")) for frame in source.decode(stream)]
        first = min(pts for pts, _ in shown if pts is not None)
        return [
            hashlib.md5(image.tobytes()).hexdigest()
            for pts, image in shown
            if pts is not None and start <= (pts - first) * stream.time_base < end
        ]

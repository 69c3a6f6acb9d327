"""What a media file holds: ``probe(path) -> MediaInfo``, ``scan_media(path) -> MediaScan``.

Frame count, rate and duration come from the video packets' timestamps (a demux, no decode),
so they are right for variable-frame-rate and badly tagged files. While demuxing, the first
packets are decoded until one frame comes out, to read the display rotation and to prove the
stream is decodable: the file is opened and read once, without a seek. A job probes its source
once (``scan_media``) and hands the ``MediaScan`` (info and every frame's time) down to the
frame-range mapping and the pipeline, which would otherwise each read the file again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.video.stream import VideoStream

from xdub.errors import MediaError
from xdub.media.container import open_video
from xdub.media.orientation import display_size, normalize_rotation
from xdub.media.timestamps import FrameTimes, scan_frame_times

log = logging.getLogger(__name__)

MIN_SIDE_PX = 16
MAX_SIDE_PX = 8192
"""Coded frame sides outside [16, 8192] px are refused: 8192 covers 8K DCI (8192 x 4320)."""
RATE_MATCH_TOLERANCE = 0.005
"""The container's nominal rate is trusted when it is within 0.5 % of the measured one."""


@dataclass(frozen=True)
class MediaInfo:
    """A media file's video (and audio) properties. Sizes in px; times in seconds."""

    path: Path
    container_format: str
    video_codec: str
    pixel_format: str
    width: int
    """Coded width, as stored (before rotation)."""
    height: int
    display_width: int
    """Width as shown, after the display rotation."""
    display_height: int
    rotation_deg: int
    """Counter-clockwise display rotation: 0, 90, 180 or -90 (see ``orientation``)."""
    fps: Fraction
    """Exact for constant-rate files; the average for VFR ones."""
    is_vfr: bool
    num_frames: int
    duration_s: float
    """From the first frame's start to the last frame's end."""
    start_time_s: float
    """Presentation time of the first frame (non-zero for some camera and edited files)."""
    timecode: str | None
    """Start timecode (``HH:MM:SS:FF``) from the file's metadata or timecode track."""
    has_audio: bool
    audio_codec: str | None
    audio_sample_rate_hz: int | None
    audio_num_channels: int | None


@dataclass(frozen=True)
class MediaScan:
    """One read of a media file: its ``info`` and its video frames' ``times``."""

    info: MediaInfo
    times: FrameTimes

    @property
    def path(self) -> Path:
        return self.info.path


def probe(path: Path) -> MediaInfo:
    """Read ``path``'s properties; MediaError if unreadable, without video or frames, or sized
    outside ``[MIN_SIDE_PX, MAX_SIDE_PX]``."""
    return scan_media(path).info


def scan_media(path: Path) -> MediaScan:
    """``probe`` that keeps the frame times it read (same errors)."""
    path = Path(path)
    with open_video(path) as (container, stream):
        context = stream.codec_context
        width, height = context.width, context.height
        _check_size(path, width, height)
        first_frame = _FirstFrame(stream)
        times = scan_frame_times(container, stream, path, on_packet=first_frame.feed)
        rotation = first_frame.rotation(path)
        fps = _average_fps(times, stream.average_rate)
        audio = _audio_summary(container)
        container_format, timecode = container.format.name, _timecode(container)
        video_codec, pixel_format = context.name, context.pix_fmt or "unknown"
    display_w, display_h = display_size(width, height, rotation)
    info = MediaInfo(
        path=path,
        container_format=container_format,
        video_codec=video_codec,
        pixel_format=pixel_format,
        width=width,
        height=height,
        display_width=display_w,
        display_height=display_h,
        rotation_deg=rotation,
        fps=fps,
        is_vfr=times.is_vfr,
        num_frames=times.num_frames,
        duration_s=times.duration_s,
        start_time_s=times.start_time_s,
        timecode=timecode,
        has_audio=audio is not None,
        audio_codec=audio[0] if audio else None,
        audio_sample_rate_hz=audio[1] if audio else None,
        audio_num_channels=audio[2] if audio else None,
    )
    log.debug("probed %s: %s", path, info)
    return MediaScan(info, times)


def _check_size(path: Path, width: int, height: int) -> None:
    if not (MIN_SIDE_PX <= width <= MAX_SIDE_PX and MIN_SIDE_PX <= height <= MAX_SIDE_PX):
        raise MediaError(
            f"{path}: frame size {width}x{height} is outside the supported "
            f"{MIN_SIDE_PX}..{MAX_SIDE_PX} px per side",
            code="bad_size",
            hint=_size_hint(width, height),
        )


def _size_hint(width: int, height: int) -> str:
    """What to do about a frame size outside the range: scale up a tiny clip, down a huge one."""
    if min(width, height) < MIN_SIDE_PX:
        return (
            f"the clip is too small to hold a face: scale it to at least {MIN_SIDE_PX} px per side"
        )
    return f"scale the clip to at most {MAX_SIDE_PX} px per side before dubbing"


def _average_fps(times: FrameTimes, nominal: Fraction | None) -> Fraction:
    """The container's nominal rate when the timestamps agree with it, else the measured one."""
    measured = Fraction(times.num_frames) / Fraction(times.duration_s)
    if nominal and abs(nominal / measured - 1) <= RATE_MATCH_TOLERANCE:
        return nominal
    return measured.limit_denominator(1001)


def _audio_summary(container: av.container.InputContainer) -> tuple[str, int, int] | None:
    """(codec, sample rate in Hz, channels) of the first audio stream, or None."""
    if not container.streams.audio:
        return None
    context = container.streams.audio[0].codec_context
    return context.name, context.sample_rate, context.layout.nb_channels


def _timecode(container: av.container.InputContainer) -> str | None:
    """``timecode`` from the video stream, a timecode (data) track, or the container."""
    streams = [*container.streams.video, *container.streams.data]
    for metadata in [*(stream.metadata for stream in streams), container.metadata]:
        value = metadata.get("timecode")
        if value:
            return str(value)
    return None


class _FirstFrame:
    """Decodes the packets it is fed until the first frame comes out (then ignores them)."""

    def __init__(self, stream: VideoStream) -> None:
        self._stream = stream
        self._rotation: int | None = None

    def feed(self, packet: av.Packet) -> None:
        if self._rotation is None:
            self._take(self._stream.decode(packet))

    def rotation(self, path: Path) -> int:
        """The first frame's display-matrix rotation, normalised (0 when there is none)."""
        if self._rotation is None:
            self._take(self._stream.decode(None))  # flush: a decoder may hold frames back
        if self._rotation is None:
            raise MediaError(f"{path}: no video frame could be decoded", code="no_frames")
        return self._rotation

    def _take(self, frames: list[av.VideoFrame]) -> None:
        if frames:
            self._rotation = normalize_rotation(frames[0].rotation)

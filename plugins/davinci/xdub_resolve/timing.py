"""Time arithmetic between Resolve's host frames and media-relative OTIO ranges (hosts.md §A5).

Stdlib-only (Resolve's Python is whatever it finds). Every quantity is exact: rates are
``Fraction`` (29.97 is 30000/1001), frame counts are ints, positions in seconds are ``Fraction``.

The traps this module encodes:

- ``GetLeftOffset()`` is the file-relative source in-point at 100 % speed, in *media* frames;
  ``GetSourceStartFrame()`` can be off by one, so it is only used to detect retimes.
- source frames count at the media's own fps, record frames at the timeline's;
- ``GetSourceEndFrame()`` is exclusive when media fps == timeline fps, inclusive when they differ;
- a reversed clip reports source start > source end; a retimed one a span that is not its
  duration converted between the two rates;
- timecode-absolute numbers (start TC baked in) vs file-relative ones;
- ``AppendToTimeline``'s ``endFrame`` is exclusive, and mixed-fps placements are floored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from xdub_resolve.xdub_protocol import timecode
from xdub_resolve.xdub_protocol.exceptions import XdubError

NTSC_FACTOR = Fraction(1000, 1001)
FRAME_TOLERANCE = 1
"""Source spans may be off by one frame (hosts.md §A5), so a retime shows only beyond that."""


class TimingError(ValueError):
    """A clip whose timing xdub cannot dub (retimed, reversed) or a malformed number."""


@dataclass(frozen=True)
class FrameRate:
    """A frame rate: ``fps`` exactly, and whether its timecode drops frame numbers."""

    fps: Fraction
    is_drop_frame: bool = False

    def seconds(self, frames: int | Fraction) -> Fraction:
        return Fraction(frames) / self.fps

    def frames_at(self, seconds: Fraction) -> Fraction:
        """``seconds`` as a (possibly fractional) frame count at this rate."""
        return seconds * self.fps


def parse_frame_rate(text: str | float) -> FrameRate:
    """Resolve's rate strings (``"24"``, ``"23.976"``, ``"29.97 DF"``, ``"59.94"``) exactly."""
    raw = str(text).strip()
    is_drop_frame = raw.upper().endswith("DF")
    number = raw[:-2].strip() if is_drop_frame else raw
    try:
        value = float(number)
    except ValueError:
        raise TimingError(f"frame rate {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise TimingError(f"frame rate {text!r} is not positive")
    nominal = round(value)
    if abs(value - nominal) < 1e-6:
        fps = Fraction(nominal)
    elif abs(value - float(nominal * NTSC_FACTOR)) < 0.006:  # "23.976", "23.98", "29.97"
        fps = nominal * NTSC_FACTOR
    else:
        fps = Fraction(value).limit_denominator(1001)
    if is_drop_frame and nominal % 30:
        raise TimingError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {text!r}")
    return FrameRate(fps, is_drop_frame)


def timecode_to_frames(text: str, rate: FrameRate) -> int:
    """``"01:00:00:00"`` (``;`` for drop frame) as a frame count from 00:00:00:00, by the
    protocol's one timecode implementation; its errors as ``TimingError``."""
    try:
        return timecode.timecode_to_frames(text, rate.fps, is_drop_frame=rate.is_drop_frame)
    except XdubError as error:
        raise TimingError(error.message) from None


def frames_to_timecode(frames: int, rate: FrameRate) -> str:
    """The inverse of ``timecode_to_frames``; drop frame is written with ``;``."""
    try:
        return timecode.frames_to_timecode(frames, rate.fps, is_drop_frame=rate.is_drop_frame)
    except XdubError as error:
        raise TimingError(error.message) from None


def convert_frames(frames: int | Fraction, source: FrameRate, target: FrameRate) -> Fraction:
    """A frame count at ``source`` as the same duration in frames at ``target``."""
    return Fraction(frames) * target.fps / source.fps


@dataclass(frozen=True)
class ItemTiming:
    """A timeline item's raw numbers as Resolve reports them.

    ``record_start``/``record_end``: timeline frames, end exclusive (``GetStart``/``GetEnd``).
    ``left_offset``: media frames (``GetLeftOffset``). ``media_start_tc``: the media's start
    timecode as frames at ``media_rate``. ``source_start``/``source_end``: ``GetSourceStart/
    EndFrame`` when the build has them (19.1+), else ``None``. ``right_offset``
    (``GetRightOffset``) and ``media_num_frames`` (the clip's ``Frames``), when known, let
    builds before 19.1 tell a retime: on a retimed clip the offsets are in warped space.
    """

    record_start: int
    record_end: int
    left_offset: int
    timeline_rate: FrameRate
    media_rate: FrameRate
    media_start_tc: int = 0
    source_start: int | None = None
    source_end: int | None = None
    right_offset: int | None = None
    media_num_frames: int | None = None

    @property
    def record_duration(self) -> int:
        return self.record_end - self.record_start


@dataclass(frozen=True)
class MediaSpan:
    """The used part of a file: ``start_frame`` from the file's first frame, ``num_frames``
    long, both at ``rate``; ``start_tc_frame`` is the same in-point timecode-absolute."""

    start_frame: int
    num_frames: int
    rate: FrameRate
    start_tc_frame: int

    @property
    def start_s(self) -> Fraction:
        return self.rate.seconds(self.start_frame)

    @property
    def duration_s(self) -> Fraction:
        return self.rate.seconds(self.num_frames)


def check_speed(timing: ItemTiming, what: str) -> None:
    """Raise ``TimingError`` for a reversed or retimed item (needs ``GetSourceStart/EndFrame``)."""
    if timing.source_start is None or timing.source_end is None:
        _check_offsets(timing, what)  # before 19.1: no source frames, only the offsets
        return
    if timing.source_start > timing.source_end:
        raise TimingError(
            f"{what} plays in reverse (source {timing.source_start} > {timing.source_end}); "
            "xdub dubs clips at 100 % forward speed: remove the reverse and try again"
        )
    same_rate = timing.media_rate.fps == timing.timeline_rate.fps
    span = timing.source_end - timing.source_start + (0 if same_rate else 1)
    expected = convert_frames(timing.record_duration, timing.timeline_rate, timing.media_rate)
    drift = abs(timing.source_start - timing.left_offset)
    if abs(span - expected) > FRAME_TOLERANCE or drift > FRAME_TOLERANCE:
        speed = Fraction(span) / expected if expected else Fraction(0)
        raise TimingError(
            f"{what} is retimed (about {float(speed) * 100:.0f} % speed: {span} source frames "
            f"for {float(expected):.2f}); xdub dubs clips at 100 % speed: reset the clip speed "
            "or render the retimed clip first"
        )


def _check_offsets(timing: ItemTiming, what: str) -> None:
    """Left offset + duration + right offset is the media's length at 100 % speed."""
    if timing.right_offset is None or not timing.media_num_frames:
        return  # nothing to compare with: the daemon's OTIO check is the fallback
    used = convert_frames(timing.record_duration, timing.timeline_rate, timing.media_rate)
    total = timing.left_offset + used + timing.right_offset
    if abs(total - timing.media_num_frames) > 2 * FRAME_TOLERANCE:
        rest = timing.media_num_frames - timing.left_offset - timing.right_offset
        speed = rest / used if used else Fraction(0)
        raise TimingError(
            f"{what} is retimed (about {float(speed) * 100:.0f} % speed: its offsets and "
            f"duration cover {float(total):.0f} of the media's {timing.media_num_frames} "
            "frames); xdub dubs clips at 100 % speed: reset the clip speed or render the "
            "retimed clip first"
        )


def media_span(timing: ItemTiming) -> MediaSpan:
    """The file-relative range an item uses, at the media's own rate."""
    if timing.record_duration <= 0:
        raise TimingError(f"the item has an empty record range {timing.record_start}")
    if timing.left_offset < 0:
        raise TimingError(f"the item starts {-timing.left_offset} frames before its media")
    exact = convert_frames(timing.record_duration, timing.timeline_rate, timing.media_rate)
    num_frames = max(1, round(exact))
    return MediaSpan(
        start_frame=timing.left_offset,
        num_frames=num_frames,
        rate=timing.media_rate,
        start_tc_frame=timing.media_start_tc + timing.left_offset,
    )


@dataclass(frozen=True)
class Piece:
    """A part of a dialogue item under the video: read ``duration_s`` from ``source_start_s``
    of its file and place it ``offset_s`` after the video clip's first frame."""

    source_start_s: Fraction
    duration_s: Fraction
    offset_s: Fraction


def dialogue_piece(
    audio: ItemTiming, video_record_start: int, video_duration_s: Fraction
) -> Piece | None:
    """The part of ``audio`` (same timeline) under a video clip; ``None`` if none is.

    The audio item's left offset counts at *its* media rate (a WAV keeps the project rate it was
    imported at), never the timeline's.
    """
    timeline = audio.timeline_rate
    offset_s = timeline.seconds(audio.record_start - video_record_start)
    source_start_s = audio.media_rate.seconds(audio.left_offset)
    duration_s = timeline.seconds(audio.record_duration)
    if offset_s < 0:  # starts before the video clip: trim its head
        source_start_s -= offset_s
        duration_s += offset_s
        offset_s = Fraction(0)
    duration_s = min(duration_s, video_duration_s - offset_s)
    if duration_s <= 0:
        return None
    return Piece(source_start_s, duration_s, offset_s)


def append_range(num_frames: int) -> tuple[int, int]:
    """``(startFrame, endFrame)`` for ``AppendToTimeline``: the whole take, end exclusive."""
    if num_frames <= 0:
        raise TimingError(f"cannot place a take of {num_frames} frames")
    return 0, num_frames


def placed_duration(num_frames: int, media: FrameRate, timeline: FrameRate) -> int:
    """How many timeline frames ``num_frames`` media frames occupy once placed (floored)."""
    return math.floor(convert_frames(num_frames, media, timeline))

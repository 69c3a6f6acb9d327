"""Cut a source video to the frames a job uses, without re-encoding (packet stream copy).

``cut_video_range`` remuxes the video stream from the last key frame at or before the
in-point through the first key frame at or after the out-point and its leading pictures (so
every frame shown before it, whatever the B-frame reordering, is there, and so is the frame
at the out-point, where the take's last frame ends), shifted so the cut starts
at time 0, into a file of the source's own container (``dst``'s suffix; .mov keeps ProRes).
An intra-only stream (ProRes, DNxHR, MJPEG: every frame a key frame) is cut at the
in-point itself. Times are seconds since the source's first frame (``FrameTimes.relative_s``).
The cut holds only the video stream: the pipeline reads the job's dialogue from the job's
audio clips, never the source's own audio. The display rotation travels with the stream
parameters; a start ``timecode`` (the source's) is written moved to the cut's first frame.
It returns ``None`` (and says why) when the cut is not worth it or fails; the caller then
uses the whole file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from xdub.protocol.timecode import shift_timecode

log = logging.getLogger(__name__)

WORTH_CUTTING_FRACTION = 0.8
"""A used range over this share of the file is sent whole (cutting saves too little)."""
SNAP_S = Fraction(1, 10**6)
"""A key frame this close to the in- or out-point is at it (they come as floats)."""


@dataclass(frozen=True)
class VideoCut:
    """A cut file and where its first frame is in the source."""

    path: Path
    offset_s: Fraction
    """Source time (since the source's first frame) of the cut's first frame."""
    first_frame: int
    """Index of the cut's first frame among the source's frames."""
    num_frames: int
    """Frames muxed into the cut."""
    timecode: str | None
    """The cut's start timecode (the source's moved ``first_frame`` frames), or None."""


def cut_video_range(
    src: Path,
    dst: Path,
    start_s: float,
    end_s: float,
    *,
    timecode: str | None = None,
    fps: Fraction | None = None,
) -> VideoCut | None:
    """Remux the video of ``src`` covering ``[start_s, end_s)`` into ``dst``, or ``None``.

    ``timecode``: the source's start timecode at ``fps`` (both or neither), written to the
    cut moved to its first frame."""
    try:
        return _cut(src, dst, Fraction(start_s), Fraction(end_s), timecode, fps)
    except (av.FFmpegError, ValueError, OSError) as exc:
        log.info("sending %s whole: cutting it failed (%s)", src, exc)
        dst.unlink(missing_ok=True)
        return None


def _cut(
    src: Path,
    dst: Path,
    start: Fraction,
    end: Fraction,
    timecode: str | None,
    fps: Fraction | None,
) -> VideoCut | None:
    with av.open(str(src)) as source:
        stream = source.streams.video[0]
        base = stream.time_base
        if base is None:
            log.info("sending %s whole: its video has no time base", src)
            return None
        # First pass: the packets' times only (a long file's packets do not fit in memory).
        times = [(pts, p.is_keyframe) for p, pts in _timed_packets(source, stream)]
        if not times:
            log.info("sending %s whole: no timed video packets", src)
            return None
        origin = min(pts for pts, _ in times)
        if end - start > WORTH_CUTTING_FRACTION * (max(pts for pts, _ in times) - origin) * base:
            log.info("sending %s whole: the job uses most of it", src)
            return None
        keys = [(pts - origin) * base for pts, is_key in times if is_key]
        before = [k for k in keys if k <= start + SNAP_S]
        if not before:
            log.info("sending %s whole: no key frame at or before the in-point", src)
            return None
        first_key = max(before)
        after = [k for k in keys if k >= end - SNAP_S]
        first_pts = origin + int(first_key / base)
        last_key_pts = origin + int(min(after) / base) if after else None
        first_frame = sum(1 for pts, _ in times if pts < first_pts)
        cut_timecode = None
        if timecode is not None and fps is not None:
            cut_timecode = shift_timecode(timecode, first_frame, fps)
        # Second pass: from the first key frame, muxing what the cut keeps.
        source.seek(first_pts, stream=stream, backward=True, any_frame=False)
        span = _Span(first_pts, last_key_pts, cut_timecode)
        try:
            num_frames = _mux(source, stream, dst, span)
        except _SeekMissed:  # MPEG-TS seeks by bytes: read it from the start instead
            log.info("%s: the seek went past the key frame; reading from the start", src)
            with av.open(str(src)) as again:
                num_frames = _mux(again, again.streams.video[0], dst, span)
    return VideoCut(dst, first_key, first_frame, num_frames, cut_timecode)


class _SeekMissed(ValueError):
    """The seek to the first key frame landed after it."""


@dataclass(frozen=True)
class _Span:
    """What the cut keeps: from the key frame shown at ``first_pts`` through the one at
    ``last_key_pts`` and its leading pictures (None: to the end), and its timecode."""

    first_pts: int
    last_key_pts: int | None
    timecode: str | None


def _mux(
    source: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    dst: Path,
    span: _Span,
) -> int:
    """Mux ``span`` of ``stream`` (``source`` positioned at or before it) into ``dst``, shifted
    to start at 0; returns the frames muxed."""
    num_frames = 0
    with av.open(str(dst), "w") as out:
        # The rate is the timecode track's (the .mov muxer writes none without it).
        rate = stream.average_rate
        out_stream = (
            out.add_stream_from_template(stream, rate=rate)
            if rate
            else out.add_stream_from_template(stream)
        )
        if span.timecode is not None:
            out_stream.metadata["timecode"] = span.timecode
        is_past_last_key = False
        for packet, pts in _timed_packets(source, stream):
            # Packets come in decode order: the last key frame's leading pictures (decoded
            # after it, shown before it) are in; the first one shown after it is not.
            if is_past_last_key and span.last_key_pts is not None and pts > span.last_key_pts:
                break
            is_past_last_key = is_past_last_key or pts == span.last_key_pts
            # Leading pictures shown before the first key frame need the GOP before it.
            if pts < span.first_pts:
                continue
            if num_frames == 0 and pts != span.first_pts:
                raise _SeekMissed(f"the first frame muxed is at {pts}, not {span.first_pts}")
            num_frames += 1
            packet.stream = out_stream
            if packet.dts is not None:  # Matroska stores none: its muxer needs none
                packet.dts -= span.first_pts
            packet.pts = pts - span.first_pts
            out.mux(packet)
    return num_frames


def _timed_packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> Iterator[tuple[av.Packet, int]]:
    """``(packet, pts)`` of ``stream``'s packets that show a frame (those
    ``scan_frame_times`` counts), in decode order."""
    for packet in container.demux(stream):
        if packet.pts is not None and packet.size and not packet.is_discard:
            yield packet, packet.pts

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
        times = [_Times(pts, dts, p.is_keyframe) for p, pts, dts in _timed_packets(source, stream)]
        if not times:
            log.info("sending %s whole: no timed video packets", src)
            return None
        origin = min(t.pts for t in times)
        if end - start > WORTH_CUTTING_FRACTION * (max(t.pts for t in times) - origin) * base:
            log.info("sending %s whole: the job uses most of it", src)
            return None
        keys = [(t.pts - origin) * base for t in times if t.is_key]
        before = [k for k in keys if k <= start + SNAP_S]
        if not before:
            log.info("sending %s whole: no key frame at or before the in-point", src)
            return None
        first_key = max(before)
        after = [k for k in keys if k >= end - SNAP_S]
        first_pts = origin + int(first_key / base)
        stop_dts = _stop_dts(times, origin + int(min(after) / base)) if after else None
        first_frame = sum(1 for t in times if t.pts < first_pts)
        cut_timecode = None
        if timecode is not None and fps is not None:
            cut_timecode = shift_timecode(timecode, first_frame, fps)
        # Second pass: from the first key frame, muxing what the cut keeps.
        source.seek(first_pts, stream=stream, backward=True, any_frame=False)
        num_frames = 0
        with av.open(str(dst), "w") as out:
            # The rate is the timecode track's (the .mov muxer writes none without it).
            rate = stream.average_rate
            out_stream = (
                out.add_stream_from_template(stream, rate=rate)
                if rate
                else out.add_stream_from_template(stream)
            )
            if cut_timecode is not None:
                out_stream.metadata["timecode"] = cut_timecode
            for packet, pts, dts in _timed_packets(source, stream):
                if stop_dts is not None and dts >= stop_dts:
                    break
                # Leading pictures shown before the first key frame need the GOP before it.
                if pts < first_pts:
                    continue
                if num_frames == 0 and pts != first_pts:
                    raise ValueError("the seek to the first key frame went past it")
                num_frames += 1
                packet.stream = out_stream
                packet.pts, packet.dts = pts - first_pts, dts - first_pts
                out.mux(packet)
    return VideoCut(dst, first_key, first_frame, num_frames, cut_timecode)


def _timed_packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> Iterator[tuple[av.Packet, int, int]]:
    """``(packet, pts, dts)`` of ``stream``'s packets that show a frame (those
    ``scan_frame_times`` counts); ``dts`` falls back to ``pts``."""
    for packet in container.demux(stream):
        if packet.pts is not None and packet.size and not packet.is_discard:
            yield packet, packet.pts, packet.pts if packet.dts is None else packet.dts


@dataclass(frozen=True)
class _Times:
    """A video packet's times and whether it is a key frame."""

    pts: int
    dts: int
    is_key: bool


def _stop_dts(times: list[_Times], key_pts: int) -> int | None:
    """Decode time of the first packet after the key frame shown at ``key_pts`` that is
    shown after it: the key frame and its leading pictures (open GOP: decoded after it,
    shown before it) stay in the cut. None when there is none (the cut runs to the end)."""
    key_dts = next(t.dts for t in times if t.pts == key_pts)
    later = [t.dts for t in times if t.dts > key_dts and t.pts > key_pts]
    return min(later) if later else None

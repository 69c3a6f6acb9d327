"""Cut a source video to the frames a job uses, without re-encoding (packet stream copy).

``cut_video_range`` remuxes the video stream from the last key frame at or before the
in-point to the first key frame after the out-point (so every frame whose references
reach past the out-point by B-frame reordering is still there), shifted so the cut starts
at time 0. It returns the shift (``offset_s``): a job time ``t`` in the source is
``t - offset_s`` in the cut file. It returns ``None`` (and says why) when the cut is not
worth it or cannot be exact; the caller then uses the whole file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

log = logging.getLogger(__name__)

WORTH_CUTTING_FRACTION = 0.8
"""A used range over this share of the file is sent whole (cutting saves too little)."""


@dataclass(frozen=True)
class VideoCut:
    """A cut file and the source time its time 0 stands for."""

    path: Path
    offset_s: Fraction


def cut_video_range(src: Path, dst: Path, start_s: float, end_s: float) -> VideoCut | None:
    """Remux the video of ``src`` covering ``[start_s, end_s)`` into ``dst``, or ``None``."""
    try:
        return _cut(src, dst, Fraction(start_s), Fraction(end_s))
    except (av.FFmpegError, ValueError, OSError) as exc:
        log.info("sending %s whole: cutting it failed (%s)", src, exc)
        dst.unlink(missing_ok=True)
        return None


def _cut(src: Path, dst: Path, start: Fraction, end: Fraction) -> VideoCut | None:
    with av.open(str(src)) as source:
        stream = source.streams.video[0]
        base = stream.time_base
        if base is None or stream.duration is None:
            log.info("sending %s whole: no duration to weigh the cut against", src)
            return None
        if end - start > WORTH_CUTTING_FRACTION * stream.duration * base:
            log.info("sending %s whole: the job uses most of it", src)
            return None
        packets = [
            _Timed(p, p.pts, p.dts) for p in source.demux(stream) if p.pts is not None and p.size
        ]
        keys = [t.pts * base for t in packets if t.packet.is_keyframe]
        before = [k for k in keys if k <= start]
        if not before:
            log.info("sending %s whole: no key frame at or before the in-point", src)
            return None
        first_key = max(before)
        after = [k for k in keys if k > end]
        first_dts = _dts_of(packets, first_key, base)
        stop_dts = _dts_of(packets, min(after), base) if after else None
        shift = int(first_key / base)
        with av.open(str(dst), "w", format="mp4") as out:
            out_stream = out.add_stream_from_template(stream)
            for timed in packets:
                if timed.dts < first_dts or (stop_dts is not None and timed.dts >= stop_dts):
                    continue
                packet = timed.packet
                packet.stream = out_stream
                packet.pts = timed.pts - shift
                packet.dts = timed.dts - shift
                out.mux(packet)
    return VideoCut(dst, first_key)


@dataclass(frozen=True)
class _Timed:
    """A demuxed packet with its times (``dts`` falls back to ``pts``)."""

    packet: av.Packet
    pts: int
    raw_dts: int | None

    @property
    def dts(self) -> int:
        return self.pts if self.raw_dts is None else self.raw_dts


def _dts_of(packets: list[_Timed], key_time: Fraction, base: Fraction) -> int:
    """Decode time stamp of the key frame shown at ``key_time``."""
    return next(t.dts for t in packets if t.pts * base == key_time)

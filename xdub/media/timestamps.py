"""Presentation times of every video frame, read from the container's packets (no decoding)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from av.container import InputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from xdub.errors import MediaError
from xdub.media.container import open_video

VFR_TOLERANCE = 0.01
"""Frame intervals may differ by this fraction of the median interval (or 2 ticks) and still
count as a constant rate: containers round timestamps to their time base (1 ms for MKV)."""


@dataclass(frozen=True)
class FrameTimes:
    """The video stream's frame times: ``ticks`` sorted (N,) int64 in units of ``time_base``."""

    ticks: np.ndarray
    time_base: Fraction
    last_duration_ticks: int
    """Length of the last frame (from its packet, or the median interval when unknown)."""

    @property
    def num_frames(self) -> int:
        return len(self.ticks)

    @property
    def start_time_s(self) -> float:
        """Absolute presentation time of the first frame."""
        return float(int(self.ticks[0]) * self.time_base)

    def relative_s(self) -> np.ndarray:
        """(N,) float64 seconds since the first frame (first is 0)."""
        # Integer products stay exact in float64, so one division rounds each time correctly.
        offsets = (self.ticks - self.ticks[0]).astype(np.float64) * self.time_base.numerator
        return offsets / self.time_base.denominator

    @property
    def duration_s(self) -> float:
        """From the first frame's start to the last frame's end."""
        span = int(self.ticks[-1]) - int(self.ticks[0]) + self.last_duration_ticks
        return float(span * self.time_base)

    @property
    def is_vfr(self) -> bool:
        """True when frame intervals vary beyond timestamp rounding."""
        if self.num_frames < 3:
            return False
        intervals = np.diff(self.ticks)
        allowed = max(2.0, VFR_TOLERANCE * float(np.median(intervals)))
        return float(intervals.max() - intervals.min()) > allowed


def scan_frame_times(
    container: InputContainer,
    stream: VideoStream,
    path: Path,
    *,
    on_packet: Callable[[Packet], None] | None = None,
) -> FrameTimes:
    """Demux (without decoding) ``stream`` of the open ``container`` and collect frame times.

    Packets the decoder discards (edit-list pre-roll) and empty flush packets are skipped.
    ``on_packet`` sees every demuxed packet, in file order (``probe`` decodes the first ones).
    """
    time_base = stream.time_base
    if time_base is None:
        raise MediaError(f"{path}: the video stream has no time base", code="no_timestamps")
    ticks: list[int] = []
    durations: list[int] = []
    for packet in container.demux(stream):
        if on_packet is not None:
            on_packet(packet)
        if packet.size == 0 or packet.is_discard:
            continue
        tick = packet.pts if packet.pts is not None else packet.dts
        if tick is None:
            raise MediaError(
                f"{path}: video packets carry no timestamps",
                code="no_timestamps",
                hint="remux the clip into .mov or .mp4 (e.g. ffmpeg -i IN -c copy OUT.mov)",
            )
        ticks.append(tick)
        durations.append(packet.duration or 0)
    if not ticks:
        raise MediaError(f"{path}: the video stream has no frames", code="no_frames")
    order = np.argsort(np.asarray(ticks, dtype=np.int64), kind="stable")
    sorted_ticks = np.asarray(ticks, dtype=np.int64)[order]
    last_duration = durations[int(order[-1])]
    if last_duration <= 0:
        last_duration = int(np.median(np.diff(sorted_ticks))) if len(ticks) > 1 else 1
    return FrameTimes(sorted_ticks, time_base, last_duration)


def frame_times(path: Path) -> FrameTimes:
    """The frame times of ``path``'s first video stream."""
    with open_video(path) as (container, stream):
        return scan_frame_times(container, stream, path)

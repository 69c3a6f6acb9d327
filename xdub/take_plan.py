"""Where a take's frames come from and when each window may use them.

A take is planned from one probe of its source (``MediaScan``): which file frame every 25 fps
model frame shows, which model frame's face goes into every source frame, and, per 77-frame
window, how far the one streamed source decode must have gone before the window denoises
(its crops) and which source frames can be pasted once it is done (their faces are final).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from xdub.errors import MediaError
from xdub.media.conform import conform_times, covering_target_frames
from xdub.media.probe import MediaInfo, MediaScan
from xdub.protocol.timecode import shift_timecode
from xdub.sample.windows import WindowPlan


@dataclass(frozen=True)
class TakePlan:
    """Where each model frame comes from and where each source frame's face goes."""

    info: MediaInfo
    """The take's format: the source's, over the dubbed frames only (duration, timecode)."""
    first_frame: int
    """Index of the first dubbed frame in the file."""
    model_sources: list[int]
    """Per 25 fps model frame, the file index of the source frame shown at its start."""
    covering: list[int]
    """Per dubbed source frame, the model frame whose interval holds its timestamp."""
    times_s: np.ndarray
    """Per dubbed source frame, seconds since the first dubbed frame (as ``iter_frames``)."""

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def num_model_frames(self) -> int:
        return len(self.model_sources)

    def schedule(self, windows: WindowPlan, total_length: int) -> WindowSchedule:
        """Per window of ``total_length`` generated frames: decode and paste limits."""
        starts = windows.clip_starts(total_length)
        num_windows, count = len(starts), self.info.num_frames
        covering = np.asarray(self.covering)
        decode_stops, paste_stops = [], []
        for window, start in enumerate(starts):
            if window + 1 == num_windows:
                decode_stops.append(count)
                paste_stops.append(count)
                continue
            # Frames up to the next window's first one are final (its overlap is averaged in).
            final_through = start + windows.stride
            paste_stop = int(np.searchsorted(covering, final_through, side="right"))
            last_crop = self.model_sources[
                min(start + windows.clip_num_frames, len(self.model_sources)) - 1
            ]
            decode_stop = max(last_crop - self.first_frame + 1, paste_stop)
            decode_stops.append(max([decode_stop, *decode_stops]))
            paste_stops.append(paste_stop)
        return WindowSchedule(decode_stops, paste_stops)


@dataclass(frozen=True)
class WindowSchedule:
    """``decode_stops[k]``: take frames decoded (and their crops made) before window k
    denoises; ``paste_stops[k]``: take frames pasted and written once window k is done."""

    decode_stops: list[int]
    paste_stops: list[int]

    @property
    def num_windows(self) -> int:
        return len(self.decode_stops)

    def frames_held(self, *, lookahead: int, lag: int) -> int:
        """Most decoded frames waiting for their paste when the decode runs ``lookahead``
        windows ahead of the denoising and the paste ``lag`` windows behind it."""
        last = self.num_windows - 1
        held = [
            self.decode_stops[min(k + lookahead, last)]
            - (self.paste_stops[k - lag - 1] if k - lag - 1 >= 0 else 0)
            for k in range(self.num_windows)
        ]
        return max(held)


def plan_take(scan: MediaScan, frames: tuple[int, int] | None) -> TakePlan:
    """The plan for file frames ``frames`` = ``(first, count)`` (default: all) of ``scan``."""
    info, video = scan.info, scan.path
    all_times = scan.times.relative_s()
    first, count = frames or (0, len(all_times))
    if first < 0 or count < 1 or first + count > len(all_times):
        raise MediaError(
            f"{video}: frames {first}..{first + count - 1} are outside its {len(all_times)} frames",
            code="bad_range",
        )
    stop = first + count
    end_s = all_times[stop] if stop < len(all_times) else info.duration_s
    times = all_times[first:stop] - all_times[first]
    duration_s = float(end_s - all_times[first])
    model_sources = [first + i for i in conform_times(times, duration_s=duration_s)]
    covering = covering_target_frames(times, num_target=len(model_sources))
    timecode = info.timecode and shift_timecode(info.timecode, first, info.fps)
    take_info = replace(info, num_frames=count, duration_s=duration_s, timecode=timecode)
    return TakePlan(take_info, first, model_sources, covering, times)

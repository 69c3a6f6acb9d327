"""SMPTE timecode arithmetic, the one implementation (the daemon's media code and the hosts').

Stdlib-only and Python 3.10-compatible: the Resolve and Blender plugins get a copy. A timecode
is ``HH:MM:SS:FF``; a ``;`` (or ``,``) before the frames marks drop-frame, and hosts may write
``.`` or ``;`` between the other fields too (Resolve does). Frame numbers count at the nominal
rate (24 for 23.976, 30 for 29.97). Drop-frame (29.97 and 59.94 fps) skips frame numbers 0 and
1 (0-3 at 59.94) at the start of every minute except each tenth, so the label keeps pace with
the clock. Bad input raises ``MediaError`` with code ``bad_timecode``.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from xdub.errors import MediaError

TIMECODE_PATTERN = re.compile(r"^(\d{2}):([0-5]\d):([0-5]\d)([:;])(\d{2,3})$")
"""What xdub writes (and media tags hold): ``:`` separators, ``;`` before drop-frame frames."""
_READ_PATTERN = re.compile(r"^(\d{2})[:;.]([0-5]\d)[:;.]([0-5]\d)([:;.,])(\d{2,3})$")
_DROP_MARKS = (";", ",")
DROP_FRAME_FPS = (Fraction(30000, 1001), Fraction(60000, 1001))
BAD_TIMECODE = "bad_timecode"


def _bad(message: str) -> MediaError:
    return MediaError(message, code=BAD_TIMECODE)


def nominal_fps(fps: Fraction) -> int:
    """The integer rate timecode counts at (24 for 23.976, 30 for 29.97)."""
    return math.ceil(fps)


def timecode_to_frames(timecode: str, fps: Fraction, *, is_drop_frame: bool | None = None) -> int:
    """Frames since 00:00:00:00 of ``timecode`` at ``fps``.

    ``is_drop_frame`` ``None``: drop-frame when the timecode says so (``;`` before the frames);
    a host that knows its rate's kind passes it.
    """
    match = _READ_PATTERN.match(timecode.strip())
    base = nominal_fps(fps)
    if match is None:
        raise _bad(f"timecode {timecode!r} is not HH:MM:SS:FF")
    hours, minutes, seconds, mark, frames = match.groups()
    if int(frames) >= base:
        raise _bad(f"timecode {timecode!r} has a frame number beyond {base - 1} at {fps} fps")
    total_minutes = 60 * int(hours) + int(minutes)
    count = (total_minutes * 60 + int(seconds)) * base + int(frames)
    if mark in _DROP_MARKS if is_drop_frame is None else is_drop_frame:
        count -= dropped_per_minute(fps) * (total_minutes - total_minutes // 10)
    return count


def frames_to_timecode(count: int, fps: Fraction, *, is_drop_frame: bool = False) -> str:
    """The ``HH:MM:SS:FF`` label of frame ``count`` (``;`` before drop-frame frames), wrapping
    at 24 hours."""
    if count < 0:
        raise _bad(f"frame {count} is before 00:00:00:00")
    base = nominal_fps(fps)
    if is_drop_frame:
        drop = dropped_per_minute(fps)
        per_ten_minutes = 10 * 60 * base - 9 * drop
        tens, rest = divmod(count, per_ten_minutes)
        extra = 0 if rest < drop else drop * ((rest - drop) // (60 * base - drop))
        count += 9 * drop * tens + extra
    frames = count % base
    seconds = count // base
    sep = ";" if is_drop_frame else ":"
    hours = (seconds // 3600) % 24
    return f"{hours:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{sep}{frames:02d}"


def shift_timecode(timecode: str, num_frames: int, fps: Fraction) -> str:
    """``timecode`` moved ``num_frames`` later, keeping its drop-frame style."""
    match = _READ_PATTERN.match(timecode.strip())
    is_drop = match is not None and match.group(4) in _DROP_MARKS
    return frames_to_timecode(
        timecode_to_frames(timecode, fps) + num_frames, fps, is_drop_frame=is_drop
    )


def dropped_per_minute(fps: Fraction) -> int:
    """Frame numbers drop-frame timecode skips each minute: 2 at 29.97, 4 at 59.94."""
    if fps not in DROP_FRAME_FPS:
        raise _bad(f"drop-frame timecode needs 29.97 or 59.94 fps, not {fps}")
    return 2 if fps == DROP_FRAME_FPS[0] else 4

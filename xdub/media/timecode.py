"""SMPTE timecode arithmetic: ``HH:MM:SS:FF`` (``;`` before the frames marks drop-frame).

Drop-frame (29.97 and 59.94 fps) skips frame numbers 0 and 1 (0-3 at 59.94) at the start of
every minute except each tenth, so the label keeps pace with the clock.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from xdub.errors import MediaError

TIMECODE_PATTERN = re.compile(r"^(\d{2}):([0-5]\d):([0-5]\d)([:;])(\d{2,3})$")
DROP_FRAME_FPS = (Fraction(30000, 1001), Fraction(60000, 1001))


def timecode_to_frames(timecode: str, fps: Fraction) -> int:
    """Frames since 00:00:00:00 of ``timecode`` at ``fps``; MediaError if malformed."""
    match = TIMECODE_PATTERN.match(timecode)
    base = math.ceil(fps)
    if match is None or int(match.group(5)) >= base:
        raise MediaError(
            f"timecode {timecode!r} is not HH:MM:SS:FF at {fps} fps", code="bad_timecode"
        )
    hours, minutes, seconds, sep, frames = match.groups()
    total_minutes = 60 * int(hours) + int(minutes)
    count = (total_minutes * 60 + int(seconds)) * base + int(frames)
    if sep == ";":
        count -= _dropped_per_minute(fps) * (total_minutes - total_minutes // 10)
    return count


def frames_to_timecode(count: int, fps: Fraction, *, is_drop_frame: bool = False) -> str:
    """The ``HH:MM:SS:FF`` label of frame ``count`` (wrapping at 24 hours)."""
    base = math.ceil(fps)
    if is_drop_frame:
        drop = _dropped_per_minute(fps)
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
    is_drop = ";" in timecode
    return frames_to_timecode(
        timecode_to_frames(timecode, fps) + num_frames, fps, is_drop_frame=is_drop
    )


def _dropped_per_minute(fps: Fraction) -> int:
    if fps not in DROP_FRAME_FPS:
        raise MediaError(
            f"drop-frame timecode needs 29.97 or 59.94 fps, not {fps}", code="bad_timecode"
        )
    return 2 if fps == DROP_FRAME_FPS[0] else 4

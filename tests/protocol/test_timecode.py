"""Timecode labels <-> frame counts, non-drop and drop-frame."""

from __future__ import annotations

from fractions import Fraction

import pytest

from xdub.errors import MediaError
from xdub.protocol.timecode import frames_to_timecode, shift_timecode, timecode_to_frames

NTSC = Fraction(30000, 1001)


def test_non_drop_round_trip_at_24_fps() -> None:
    assert timecode_to_frames("01:00:00:00", Fraction(24)) == 86400
    assert frames_to_timecode(86400 + 23, Fraction(24)) == "01:00:00:23"
    assert shift_timecode("00:59:59:23", 1, Fraction(24)) == "01:00:00:00"


def test_drop_frame_skips_two_labels_each_minute_but_the_tenth() -> None:
    assert shift_timecode("00:00:59;29", 1, NTSC) == "00:01:00;02"
    assert shift_timecode("00:09:59;29", 1, NTSC) == "00:10:00;00"
    # An hour of drop-frame labels is 107892 frames (29.97 * 3600, rounded).
    assert timecode_to_frames("01:00:00;00", NTSC) == 107892


def test_every_drop_frame_label_round_trips() -> None:
    for count in range(0, 40000, 7):
        label = frames_to_timecode(count, NTSC, is_drop_frame=True)
        assert timecode_to_frames(label, NTSC) == count, label


def test_malformed_timecodes_are_refused() -> None:
    with pytest.raises(MediaError):
        timecode_to_frames("1:00:00:00", Fraction(25))
    with pytest.raises(MediaError):
        timecode_to_frames("00:00:00:25", Fraction(25))
    with pytest.raises(MediaError):
        timecode_to_frames("00:00:00;00", Fraction(25))


def test_host_spellings_read_like_ours() -> None:
    """Resolve writes ``.``/``,`` separators too; the hosts use this same module (a copy)."""
    assert timecode_to_frames("01:00:00.00", Fraction(24)) == 86400
    assert timecode_to_frames("00:01:00,02", NTSC) == 1800  # ``,`` marks drop-frame as ``;``
    assert timecode_to_frames("00:01:00:02", NTSC, is_drop_frame=True) == 1800
    assert frames_to_timecode(1799, NTSC, is_drop_frame=True) == "00:00:59;29"
    with pytest.raises(MediaError, match="before 00:00:00:00"):
        frames_to_timecode(-1, Fraction(24))

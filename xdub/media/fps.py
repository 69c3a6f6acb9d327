"""Frame rates as exact fractions: the editor rates by name, and parsing of user input."""

from __future__ import annotations

from fractions import Fraction

from xdub.errors import MediaError

NTSC_DIVISOR = 1001
"""The 1000/1001 family: 23.976 is 24000/1001, 29.97 is 30000/1001, 59.94 is 60000/1001."""

STANDARD_FPS: dict[str, Fraction] = {
    "23.976": Fraction(24000, NTSC_DIVISOR),
    "24": Fraction(24),
    "25": Fraction(25),
    "29.97": Fraction(30000, NTSC_DIVISOR),
    "30": Fraction(30),
    "50": Fraction(50),
    "59.94": Fraction(60000, NTSC_DIVISOR),
    "60": Fraction(60),
}
"""The rates editors use, keyed by the name they are shown with."""

MODEL_FPS = Fraction(25)
"""X-Dub generates at 25 fps constant frame rate."""

RATE_TOLERANCE_FPS = 1e-3
"""A constant-rate file whose rate differs less from its clip's is read frame for frame."""


def parse_fps(text: str) -> Fraction:
    """``"29.97"``, ``"30000/1001"`` or ``"25"`` as an exact positive Fraction.

    A standard name maps to its exact NTSC fraction, so "23.976" is 24000/1001, not 2997/125.
    """
    cleaned = text.strip()
    if cleaned in STANDARD_FPS:
        return STANDARD_FPS[cleaned]
    try:
        fps = Fraction(cleaned)
    except (ValueError, ZeroDivisionError) as error:
        raise MediaError(
            f"frame rate {text!r} is not a number or a fraction",
            code="bad_fps",
            hint=f"use one of {', '.join(STANDARD_FPS)} or a fraction such as 30000/1001",
        ) from error
    if fps <= 0:
        raise MediaError(f"frame rate {text!r} must be positive", code="bad_fps")
    return fps

"""Frame-rate parsing and the display-rotation convention."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from xdub.errors import MediaError
from xdub.media.fps import parse_fps
from xdub.media.orientation import display_size, normalize_rotation, to_coded, to_upright


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23.976", Fraction(24000, 1001)),
        ("29.97", Fraction(30000, 1001)),
        ("59.94", Fraction(60000, 1001)),
        ("25", Fraction(25)),
        ("30000/1001", Fraction(30000, 1001)),
        (" 48 ", Fraction(48)),
    ],
)
def test_parse_fps_gives_exact_fractions(text: str, expected: Fraction):
    assert parse_fps(text) == expected


@pytest.mark.parametrize("text", ["fast", "0", "-25", "1/0"])
def test_parse_fps_rejects_nonsense(text: str):
    with pytest.raises(MediaError) as caught:
        parse_fps(text)
    assert caught.value.code == "bad_fps"


def test_rotation_is_normalised_to_right_angles():
    assert [normalize_rotation(r) for r in (0, 90, 180, -180, 270, -90, 360, 89.6)] == [
        0, 90, 180, 180, -90, -90, 0, 90,
    ]  # fmt: skip
    with pytest.raises(MediaError):
        normalize_rotation(45)


def test_upright_and_coded_are_inverse_and_turn_the_right_way():
    coded = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)  # 3 wide, 2 tall
    # -90: the player turns the picture 90 degrees clockwise, so the left column becomes the top.
    upright = to_upright(coded, -90)
    assert upright[:, :, 0].tolist() == [[3, 0], [4, 1], [5, 2]]
    assert display_size(3, 2, -90) == (2, 3) and display_size(3, 2, 180) == (3, 2)
    for rotation in (0, 90, 180, -90):
        np.testing.assert_array_equal(to_coded(to_upright(coded, rotation), rotation), coded)

"""iter_frames(): upright RGB frames with their presentation times, streamed once."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest

from xdub.media.decode import iter_frames
from xdub.media.probe import probe
from xdub.media.synthetic import SyntheticClip
from xdub.media.timestamps import frame_times

MakeClip = Callable[..., SyntheticClip]


@pytest.mark.parametrize(
    "fields",
    [
        {"fps": Fraction(30000, 1001)},
        {"fps": Fraction(50)},
        {"fps": Fraction(30), "is_vfr": True, "seed": 3},
        {"codec": "prores"},
    ],
    ids=["29.97", "50", "vfr", "prores"],
)
def test_every_frame_comes_once_in_order_with_its_time(make_clip: MakeClip, fields: dict):
    name = "clip.mov" if fields.get("codec") == "prores" else "clip.mp4"
    clip = make_clip(name, **fields)
    frames = list(iter_frames(clip.path))
    assert [frame.index for frame in frames] == list(range(clip.num_frames))
    times = [frame.time_s for frame in frames]
    assert times == pytest.approx(clip.frame_times_s, abs=1e-9)  # exact ticks, one division
    np.testing.assert_array_equal(times, frame_times(clip.path).relative_s())
    assert len(frames) == probe(clip.path).num_frames
    for frame in frames:
        assert frame.rgb.shape == (48, 64, 3) and frame.rgb.dtype == np.uint8


@pytest.mark.parametrize("rotation_deg", [90, -90, 180])
def test_rotated_frames_come_out_upright(make_clip: MakeClip, rotation_deg: int):
    upright = make_clip("upright.mp4", width=48, height=80, seed=2)
    rotated = make_clip("rotated.mp4", width=48, height=80, seed=2, rotation_deg=rotation_deg)
    pairs = zip(iter_frames(upright.path), iter_frames(rotated.path), strict=True)
    for expected, shown in pairs:
        assert shown.rgb.shape == (80, 48, 3) and shown.rgb.flags.c_contiguous
        difference = np.abs(shown.rgb.astype(np.int16) - expected.rgb).mean()
        # Two lossy encodings of one picture, coded in turned layouts (4:2:0 chroma is sited
        # differently once turned, which the exact full-chroma conversion shows): within 5.
        assert difference < 5.0


def test_decoded_picture_shows_the_face_where_the_truth_says(make_clip: MakeClip):
    clip = make_clip(width=96, height=64, duration_s=0.4, seed=6)
    for frame, faces in zip(iter_frames(clip.path), clip.faces, strict=True):
        x1, y1, x2, y2 = faces[0].box_xyxy
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        cheek = frame.rgb[int(cy), int(cx + 0.4 * (x2 - x1) / 2)].astype(int)
        # Every palette's skin is warm (R > G > B by 30+ levels), whatever the backdrop is.
        assert cheek[0] > cheek[1] > cheek[2]


def test_frames_are_streamed_lazily(make_clip: MakeClip):
    clip = make_clip(duration_s=1.0)
    frames = iter_frames(clip.path)
    first = next(frames)
    assert first.index == 0 and first.time_s == 0.0
    frames.close()  # closing early releases the file without decoding the rest


def test_pixels_convert_on_first_use_and_stay_valid_after_the_file_is_closed(
    make_clip: MakeClip,
):
    """A pass that skips frames pays only their decode; a kept frame converts later, equal to
    converting it at once."""
    clip = make_clip(fps=Fraction(50), duration_s=0.4, seed=4)
    at_once = [frame.rgb for frame in iter_frames(clip.path)]
    kept = list(iter_frames(clip.path))  # the decoder is closed when this returns
    assert all("rgb" not in vars(frame) for frame in kept)
    for frame, expected in zip(kept[::2], at_once[::2], strict=True):
        np.testing.assert_array_equal(frame.rgb, expected)
        assert frame.rgb is frame.rgb  # converted once
    assert all("rgb" not in vars(frame) for frame in kept[1::2])

"""Host frames <-> media-relative ranges, with the traps of hosts.md §A5."""

from __future__ import annotations

from fractions import Fraction

import pytest
from xdub_resolve.timing import (
    FrameRate,
    ItemTiming,
    TimingError,
    append_range,
    check_speed,
    convert_frames,
    dialogue_piece,
    frames_to_timecode,
    media_span,
    parse_frame_rate,
    placed_duration,
    timecode_to_frames,
)

NTSC_24 = FrameRate(Fraction(24000, 1001))
NTSC_30_DF = FrameRate(Fraction(30000, 1001), is_drop_frame=True)
FPS_24 = FrameRate(Fraction(24))
FPS_25 = FrameRate(Fraction(25))


@pytest.mark.parametrize(
    ("text", "fps", "is_drop_frame"),
    [
        ("24", Fraction(24), False),
        ("25.000", Fraction(25), False),
        ("23.976", Fraction(24000, 1001), False),
        ("23.98", Fraction(24000, 1001), False),
        ("29.97", Fraction(30000, 1001), False),
        ("29.97 DF", Fraction(30000, 1001), True),
        ("59.94 DF", Fraction(60000, 1001), True),
        ("47.952", Fraction(48000, 1001), False),
        ("119.88", Fraction(120000, 1001), False),
        (50, Fraction(50), False),
    ],
)
def test_resolve_rate_strings_parse_exactly(text: str, fps: Fraction, is_drop_frame: bool) -> None:
    assert parse_frame_rate(text) == FrameRate(fps, is_drop_frame)


@pytest.mark.parametrize("text", ["", "fast", "0", "-24", "nan", "25 DF"])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(TimingError):
        parse_frame_rate(text)


def test_start_timecode_counts_at_the_nominal_rate() -> None:
    # 01:00:00:00 is 86400 frames at 24 and at 23.976 (timecode counts 24 per "second")
    assert timecode_to_frames("01:00:00:00", FPS_24) == 86400
    assert timecode_to_frames("01:00:00:00", NTSC_24) == 86400
    assert timecode_to_frames("00:00:01:05", FPS_25) == 30


def test_drop_frame_timecode_skips_two_numbers_a_minute_except_tenths() -> None:
    assert timecode_to_frames("00:01:00;02", NTSC_30_DF) == 1800  # ;00 and ;01 do not exist
    assert timecode_to_frames("00:10:00;00", NTSC_30_DF) == 17982
    assert timecode_to_frames("01:00:00;00", NTSC_30_DF) == 107892
    assert frames_to_timecode(1800, NTSC_30_DF) == "00:01:00;02"
    assert frames_to_timecode(1799, NTSC_30_DF) == "00:00:59;29"


@pytest.mark.parametrize(
    "rate", [FPS_24, FPS_25, NTSC_24, NTSC_30_DF, parse_frame_rate("59.94 DF")]
)
def test_timecode_round_trips(rate: FrameRate) -> None:
    for frames in (0, 1, 1799, 1800, 17982, 107892, 123457):
        assert timecode_to_frames(frames_to_timecode(frames, rate), rate) == frames


@pytest.mark.parametrize("text", ["1:00:00", "01:00:00:24", "01:60:00:00", "aa:bb:cc:dd"])
def test_malformed_timecodes_are_refused(text: str) -> None:
    with pytest.raises(TimingError):
        timecode_to_frames(text, FPS_24)


def _timing(**changes: object) -> ItemTiming:
    values: dict[str, object] = {
        "record_start": 86400 + 48,
        "record_end": 86400 + 48 + 96,
        "left_offset": 120,
        "timeline_rate": FPS_24,
        "media_rate": FPS_24,
        "media_start_tc": 86400,
        "source_start": 120,
        "source_end": 216,  # exclusive when media fps == timeline fps
    }
    values.update(changes)
    return ItemTiming(**values)  # type: ignore[arg-type]


def test_left_offset_is_the_file_relative_in_point() -> None:
    span = media_span(_timing())
    assert (span.start_frame, span.num_frames, span.start_tc_frame) == (120, 96, 86520)
    assert span.start_s == 5 and span.duration_s == 4


def test_source_frames_count_at_the_media_rate_not_the_timeline_rate() -> None:
    # 25 fps media on a 24 fps timeline: 96 record frames last 4 s = 100 media frames
    timing = _timing(media_rate=FPS_25, source_end=120 + 100 - 1)  # inclusive: rates differ
    check_speed(timing, "clip")
    span = media_span(timing)
    assert (span.start_frame, span.num_frames) == (120, 100)
    assert span.start_s == Fraction(120, 25)


def test_ntsc_media_on_an_integer_timeline_rounds_to_whole_media_frames() -> None:
    timing = _timing(media_rate=NTSC_24, source_end=120 + 96 - 1)
    check_speed(timing, "clip")
    assert media_span(timing).num_frames == round(96 * Fraction(24000, 1001) / 24) == 96


def test_source_end_exclusive_on_equal_rates_passes_and_inclusive_passes_when_rates_differ() -> (
    None
):
    check_speed(_timing(), "clip")
    check_speed(_timing(media_rate=FPS_25, source_end=219), "clip")


def test_source_start_off_by_one_is_tolerated() -> None:
    check_speed(_timing(source_start=121), "clip")
    assert media_span(_timing(source_start=121)).start_frame == 120  # left offset wins


def test_reversed_clip_is_rejected() -> None:
    with pytest.raises(TimingError, match="reverse"):
        check_speed(_timing(source_start=216, source_end=120), "clip")


@pytest.mark.parametrize("source_end", [120 + 48, 120 + 192])
def test_retimed_clip_is_rejected(source_end: int) -> None:
    with pytest.raises(TimingError, match="retimed"):
        check_speed(_timing(source_end=source_end), "clip")


def test_retime_shows_as_left_offset_drifting_from_source_start() -> None:
    with pytest.raises(TimingError, match="retimed"):
        check_speed(_timing(source_start=160, source_end=256), "clip")


def test_builds_without_source_frames_skip_the_speed_check() -> None:
    check_speed(_timing(source_start=None, source_end=None), "clip")


def test_empty_or_negative_ranges_are_refused() -> None:
    with pytest.raises(TimingError):
        media_span(_timing(record_end=86400 + 48))
    with pytest.raises(TimingError):
        media_span(_timing(left_offset=-1))


def test_dialogue_offset_uses_the_audio_media_rate_for_its_in_point() -> None:
    # a WAV imported while the project ran at 25 fps keeps 25 fps: left offset 50 = 2 s
    audio = _timing(
        record_start=86400 + 48 + 24,
        record_end=86400 + 48 + 72,
        left_offset=50,
        media_rate=FPS_25,
    )
    piece = dialogue_piece(audio, 86400 + 48, Fraction(4))
    assert piece is not None
    assert (piece.offset_s, piece.source_start_s, piece.duration_s) == (1, 2, 2)


def test_dialogue_starting_before_the_clip_is_trimmed_at_its_head() -> None:
    audio = _timing(record_start=86400 + 24, record_end=86400 + 96, left_offset=0)
    piece = dialogue_piece(audio, 86400 + 48, Fraction(4))
    assert piece is not None
    assert (piece.offset_s, piece.source_start_s, piece.duration_s) == (0, 1, 2)


def test_dialogue_running_past_the_clip_is_cut_at_the_clips_end() -> None:
    audio = _timing(record_start=86400 + 96, record_end=86400 + 240, left_offset=0)
    piece = dialogue_piece(audio, 86400 + 48, Fraction(4))
    assert piece is not None
    assert (piece.offset_s, piece.duration_s) == (2, 2)


def test_dialogue_outside_the_clip_gives_nothing() -> None:
    audio = _timing(record_start=86400 + 200, record_end=86400 + 240)
    assert dialogue_piece(audio, 86400 + 48, Fraction(4)) is None


def test_append_end_frame_is_exclusive() -> None:
    assert append_range(96) == (0, 96)
    with pytest.raises(TimingError):
        append_range(0)


def test_mixed_rate_placement_is_floored() -> None:
    assert placed_duration(96, FPS_24, FPS_24) == 96
    assert placed_duration(100, FPS_25, FPS_24) == 96
    assert placed_duration(97, FPS_25, FPS_24) == 93  # 93.12 record frames
    assert placed_duration(96, FPS_24, NTSC_24) == 95  # 95.9 -> 95: the 1-frame gap
    assert convert_frames(100, FPS_25, FPS_24) == 96

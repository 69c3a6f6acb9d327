"""Host frames <-> media-relative ranges, channel choice and take placement (pure, no bpy)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest


def strip(timing: ModuleType, **fields: object) -> object:
    values = {"name": "A001", "frame_start": 100.0, "frame_final_start": 100}
    values |= {"frame_final_end": 150, "frame_duration": 50}
    values |= fields
    return timing.StripTiming(**values)


def test_untrimmed_strip_shows_the_whole_media(timing: ModuleType) -> None:
    span = timing.movie_span(strip(timing), 25.0, 25.0)
    assert (span.start_frame, span.num_frames, span.media_num_frames) == (0, 50, 50)
    assert (span.record_start, span.record_end) == (100, 150)


def test_handles_move_the_media_range(timing: ModuleType) -> None:
    # Left handle dragged 7 frames in, right handle 5 frames in.
    span = timing.movie_span(strip(timing, frame_final_start=107, frame_final_end=145), 25.0, 25.0)
    assert (span.start_frame, span.num_frames, span.record_start) == (7, 38, 107)


def test_hard_trim_adds_to_the_media_offset(timing: ModuleType) -> None:
    # 60-frame file, 4 frames hard-trimmed at the start and 6 at the end, handles 3 in.
    values = {"frame_duration": 50, "animation_offset_start": 4, "animation_offset_end": 6}
    span = timing.movie_span(
        strip(timing, frame_final_start=103, frame_final_end=150, **values), 25.0, 25.0
    )
    assert (span.start_frame, span.num_frames, span.media_num_frames) == (7, 47, 60)


def test_negative_positions_are_fine(timing: ModuleType) -> None:
    values = {"frame_start": -20.0, "frame_final_start": -10, "frame_final_end": 5}
    span = timing.movie_span(strip(timing, **values), 24.0, 24.0)
    assert (span.start_frame, span.num_frames, span.record_start) == (10, 15, -10)


def test_ntsc_rates_compare_equal(timing: ModuleType) -> None:
    scene = timing.scene_fps(30, 1.001)
    assert timing.movie_span(strip(timing), 29.97002997, scene).fps == pytest.approx(29.97, 1e-4)


def test_scene_rate_other_than_the_clip_is_refused(timing: ModuleType) -> None:
    with pytest.raises(Exception, match="23.976 fps but the scene is 25.000") as raised:
        timing.movie_span(strip(timing), 24000 / 1001, 25.0)
    assert raised.value.code == "bad_media" and "frame rate" in raised.value.hint


def test_handles_beyond_the_media_are_refused(timing: ModuleType) -> None:
    with pytest.raises(Exception, match="handles extended past the media"):
        timing.movie_span(strip(timing, frame_final_end=160), 25.0, 25.0)
    with pytest.raises(Exception, match="handles extended past the media"):
        timing.movie_span(strip(timing, frame_final_start=95), 25.0, 25.0)


def test_sub_frame_positions_are_refused(timing: ModuleType) -> None:
    with pytest.raises(Exception, match="sub-frame"):
        timing.movie_span(strip(timing, frame_start=99.5), 25.0, 25.0)


def test_bad_scene_rate(timing: ModuleType) -> None:
    with pytest.raises(Exception, match="not positive"):
        timing.scene_fps(0, 1.0)


def sound(timing: ModuleType, name: str, start: int, end: int, **fields: object) -> object:
    offset_s = fields.pop("sound_offset_s", 0.0)
    values = {"name": name, "frame_start": float(start), "frame_final_start": start}
    values |= {"frame_final_end": end, "frame_duration": end - start} | fields
    return timing.SoundStripTiming(timing.StripTiming(**values), f"/audio/{name}.wav", offset_s)


def picture(timing: ModuleType) -> object:
    return timing.movie_span(strip(timing), 25.0, 25.0)  # frames 100-149


def test_dialogue_is_clipped_to_the_picture_in_time_order(timing: ModuleType) -> None:
    sounds = [
        sound(timing, "late", 130, 170),  # runs past the picture
        sound(timing, "early", 90, 110),  # starts before it
        sound(timing, "outside", 10, 40),
    ]
    pieces = timing.dialogue_pieces(picture(timing), sounds, 25.0)
    assert [p.name for p in pieces] == ["early", "late"]
    early, late = pieces
    assert early.source_start_s == pytest.approx(10 / 25)  # 10 frames into the file
    assert (early.offset_s, early.duration_s) == (0.0, pytest.approx(10 / 25))
    assert late.source_start_s == 0.0
    assert (late.offset_s, late.duration_s) == (pytest.approx(30 / 25), pytest.approx(20 / 25))


def test_sound_trims_and_offset_shift_the_source_time(timing: ModuleType) -> None:
    # Left handle 5 frames in, 3 frames hard trim, and sound_offset 0.25 s.
    piece = sound(
        timing,
        "line",
        105,
        120,
        frame_start=100.0,
        animation_offset_start=3,
        sound_offset_s=0.25,
    )
    (result,) = timing.dialogue_pieces(picture(timing), [piece], 25.0)
    assert result.source_start_s == pytest.approx(8 / 25 + 0.25)
    assert result.offset_s == pytest.approx(5 / 25)


def test_overlapping_dialogue_is_refused(timing: ModuleType) -> None:
    sounds = [sound(timing, "a", 100, 120), sound(timing, "b", 115, 130)]
    with pytest.raises(Exception, match="'a' and 'b' overlap") as raised:
        timing.dialogue_pieces(picture(timing), sounds, 25.0)
    assert raised.value.code == "bad_job"


def test_touching_dialogue_is_fine(timing: ModuleType) -> None:
    sounds = [sound(timing, "a", 100, 120), sound(timing, "b", 120, 130)]
    assert len(timing.dialogue_pieces(picture(timing), sounds, 25.0)) == 2


def test_no_dialogue_under_the_picture(timing: ModuleType) -> None:
    with pytest.raises(Exception, match="no selected sound strip") as raised:
        timing.dialogue_pieces(picture(timing), [sound(timing, "x", 0, 50)], 25.0)
    assert raised.value.code == "bad_job"


def test_negative_sound_offset_before_the_file_is_refused(timing: ModuleType) -> None:
    piece = sound(timing, "x", 100, 120, sound_offset_s=-1.0)
    with pytest.raises(Exception, match="before its file"):
        timing.dialogue_pieces(picture(timing), [piece], 25.0)


def test_file_dialogue_spans_the_picture(timing: ModuleType) -> None:
    (piece,) = timing.file_dialogue(picture(timing), "/a.wav")
    assert (piece.offset_s, piece.source_start_s, piece.duration_s) == (0.0, 0.0, 2.0)


def test_take_is_placed_over_the_same_frames(timing: ModuleType) -> None:
    span = timing.movie_span(strip(timing, frame_final_start=107, frame_final_end=145), 25.0, 25.0)
    exact = timing.take_placement(span, 0, span.num_frames, 25.0)
    assert (exact.frame_start, exact.frame_final_start, exact.frame_final_end) == (107, 107, 145)
    with_handles = timing.take_placement(span, 7, 50, 25.0)
    assert with_handles.frame_start == 100
    assert (with_handles.frame_final_start, with_handles.frame_final_end) == (107, 145)


def test_short_or_wrong_rate_take_is_refused(timing: ModuleType) -> None:
    span = picture(timing)
    with pytest.raises(Exception, match="the take has 49 frames"):
        timing.take_placement(span, 0, 49, 25.0)
    with pytest.raises(Exception, match="the take is 30.000 fps"):
        timing.take_placement(span, 0, 50, 30.0)


def test_first_free_channel_skips_busy_ones(placement: ModuleType) -> None:
    occupied = [(2, 100, 150), (3, 140, 200), (4, 0, 100), (5, 149, 150)]
    # 2 is the original; 3 overlaps 140-149; 4 ends exactly at 100 (free); 5 overlaps frame 149.
    assert placement.first_free_channel(occupied, 2, 100, 150) == 4
    assert placement.first_free_channel(occupied, 3, 100, 150) == 4
    assert placement.first_free_channel([], 1, 0, 10) == 2


def test_no_free_channel(placement: ModuleType) -> None:
    occupied = [(channel, 0, 10) for channel in range(1, placement.MAX_CHANNEL + 1)]
    with pytest.raises(Exception, match="all in use") as raised:
        placement.first_free_channel(occupied, 1, 5, 6)
    assert raised.value.code == "bad_job"


def test_takes_of_a_saved_blend_go_beside_it(placement: ModuleType, tmp_path: Path) -> None:
    blend = tmp_path / "edit" / "film.blend"
    assert placement.takes_folder(str(blend)) == str(tmp_path / "edit" / "xdub_takes")
    assert placement.takes_folder("") is None  # unsaved: the daemon's job folder

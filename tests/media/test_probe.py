"""probe(): what xdub reads from a file, checked against what the synthetic kit wrote."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from support.reads import ReadCounter

from xdub.errors import MediaError
from xdub.media.audio_writer import AudioStreamWriter
from xdub.media.fps import STANDARD_FPS
from xdub.media.probe import MAX_SIDE_PX, probe, scan_media
from xdub.media.synthetic import AudioSpec, SyntheticClip
from xdub.media.timestamps import frame_times

MakeClip = Callable[..., SyntheticClip]


@pytest.mark.parametrize("fps_name", ["23.976", "29.97", "50"])
def test_constant_rate_clip_is_probed_exactly(make_clip: MakeClip, fps_name: str):
    clip = make_clip(fps=STANDARD_FPS[fps_name], duration_s=0.5)
    info = probe(clip.path)
    assert info.fps == STANDARD_FPS[fps_name] and not info.is_vfr
    assert info.num_frames == clip.num_frames
    assert info.duration_s == pytest.approx(clip.duration_s, abs=1e-9)  # from exact ticks
    assert (info.width, info.height) == (info.display_width, info.display_height) == (64, 48)
    assert (info.rotation_deg, info.start_time_s, info.timecode) == (0, 0.0, None)
    assert (info.video_codec, info.pixel_format) == ("h264", "yuv420p")
    assert not info.has_audio and info.audio_sample_rate_hz is None


def test_vfr_clip_is_flagged_with_its_average_rate(make_clip: MakeClip):
    clip = make_clip(fps=Fraction(30), duration_s=1.2, is_vfr=True, seed=8)
    info = probe(clip.path)
    assert info.is_vfr
    assert info.num_frames == clip.num_frames
    assert info.duration_s == pytest.approx(clip.duration_s, abs=1e-9)  # 90 kHz ticks
    assert float(info.fps) == pytest.approx(clip.num_frames / clip.duration_s, rel=1e-3)


@pytest.mark.parametrize("rotation_deg", [90, -90, 180])
def test_rotated_clip_reports_rotation_and_display_size(make_clip: MakeClip, rotation_deg: int):
    clip = make_clip(width=48, height=80, rotation_deg=rotation_deg)
    info = probe(clip.path)
    assert info.rotation_deg == rotation_deg
    assert (info.width, info.height) == clip.coded_size
    assert (info.display_width, info.display_height) == (48, 80)


def test_prores_with_timecode_and_stereo_audio(make_clip: MakeClip):
    clip = make_clip("clip.mov", codec="prores", timecode="10:00:00:00", audio=AudioSpec(48000, 2))
    info = probe(clip.path)
    assert (info.video_codec, info.pixel_format) == ("prores", "yuv422p10le")
    assert info.timecode == "10:00:00:00"
    assert info.has_audio and info.audio_codec == "aac"
    assert (info.audio_sample_rate_hz, info.audio_num_channels) == (48000, 2)
    assert info.num_frames == clip.num_frames


def test_missing_file(tmp_path: Path):
    with pytest.raises(MediaError) as caught:
        probe(tmp_path / "nowhere.mp4")
    assert caught.value.code == "not_found"
    assert "nowhere.mp4" in str(caught.value)


def test_garbage_and_truncated_files_are_unreadable(tmp_path: Path, make_clip: MakeClip):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video " * 200)
    clip_bytes = make_clip().path.read_bytes()
    truncated = tmp_path / "truncated.mp4"  # the index (moov) is at the end, now missing
    truncated.write_bytes(clip_bytes[: len(clip_bytes) // 2])
    for path in (junk, truncated):
        with pytest.raises(MediaError) as caught:
            probe(path)
        assert caught.value.code == "unreadable_media"
        assert path.name in str(caught.value)


def test_audio_only_file_has_no_video(tmp_path: Path):
    path = tmp_path / "speech.wav"
    with av.open(str(path), "w") as container:
        writer = AudioStreamWriter(container, "pcm_s16le", 16000, 1)
        writer.write(np.zeros((1600, 1), np.float32))
        writer.close()
    with pytest.raises(MediaError) as caught:
        probe(path)
    assert caught.value.code == "no_video"


def test_video_stream_without_frames(tmp_path: Path):
    path = tmp_path / "empty.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = 64, 48
        writer = AudioStreamWriter(container, "pcm_s16le", 16000, 1)  # MKV keeps the track
        writer.write(np.zeros((1600, 1), np.float32))
        writer.close()
    with pytest.raises(MediaError) as caught:
        probe(path)
    assert caught.value.code == "no_frames"


def test_absurd_frame_size_is_refused(tmp_path: Path):
    path = tmp_path / "wide.mp4"
    width = MAX_SIDE_PX + 16
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, 16, "yuv420p"
        black = np.zeros((16, width, 3), np.uint8)
        frame = av.VideoFrame.from_ndarray(black, format="rgb24").reformat(format="yuv420p")
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    with pytest.raises(MediaError) as caught:
        probe(path)
    assert caught.value.code == "bad_size"
    assert str(MAX_SIDE_PX) in str(caught.value)


def test_a_scan_reads_the_file_once_without_seeking_or_decoding_it(
    make_clip: MakeClip, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(rotation_deg=-90, is_vfr=True)
    reads = ReadCounter().install(monkeypatch)
    scan = scan_media(clip.path)
    path = clip.path.resolve()
    assert (reads.opens[path], reads.seeks[path], reads.frames[path]) == (1, 0, 0)
    assert scan.info == probe(clip.path) and scan.info.rotation_deg == -90
    np.testing.assert_array_equal(scan.times.relative_s(), frame_times(clip.path).relative_s())


def _one_frame_clip(path: Path, width: int, height: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        black = np.zeros((height, width, 3), np.uint8)
        frame = av.VideoFrame.from_ndarray(black, format="rgb24").reformat(format="yuv420p")
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def test_a_too_small_clip_is_told_to_scale_up_not_down(tmp_path: Path):
    with pytest.raises(MediaError) as caught:
        probe(_one_frame_clip(tmp_path / "tiny.mp4", 8, 8))
    assert caught.value.code == "bad_size"
    assert caught.value.hint is not None and "at least 16 px per side" in caught.value.hint
    assert "at most" not in caught.value.hint


def test_a_folder_is_named_a_folder_not_a_missing_file(tmp_path: Path):
    with pytest.raises(MediaError) as caught:
        probe(tmp_path)
    assert caught.value.code == "not_a_file"
    assert "is a folder, not a media file" in str(caught.value)

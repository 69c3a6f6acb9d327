"""The synthetic clip kit, read back with plain PyAV (not with xdub's own decoder)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from xdub.errors import MediaError
from xdub.media.fps import STANDARD_FPS
from xdub.media.orientation import to_upright
from xdub.media.synthetic import (
    AudioSpec,
    SyntheticVideoSpec,
    write_synthetic_video,
)
from xdub.media.synthetic_face import FacePalette


def decoded_frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def upright_rgb(frame: av.VideoFrame) -> np.ndarray:
    return to_upright(frame.to_ndarray(format="rgb24"), frame.rotation)


@pytest.mark.parametrize("fps_name", list(STANDARD_FPS))
def test_constant_rate_clip_has_the_exact_rate_size_and_length(tmp_path: Path, fps_name: str):
    fps = STANDARD_FPS[fps_name]
    spec = SyntheticVideoSpec(width=64, height=48, fps=fps, duration_s=0.4, seed=3)
    clip = write_synthetic_video(tmp_path / "clip.mp4", spec)

    expected_frames = round(Fraction(0.4) * fps)
    assert clip.num_frames == expected_frames
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == fps
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 48)
        assert stream.frames == expected_frames
        assert stream.codec_context.name == "h264"
        time_base = stream.time_base
        assert time_base is not None and stream.duration is not None
        # The MP4 edit list stores the length in the movie's 1 ms timescale.
        assert float(stream.duration * time_base) == pytest.approx(expected_frames / fps, abs=1e-3)
        frames = list(container.decode(stream))
    assert len(frames) == expected_frames
    times = [float(frame.pts * time_base) for frame in frames]
    assert times == pytest.approx(clip.frame_times_s, abs=1e-9)  # pts are exact ticks


def test_prores_clip_is_10_bit_422_in_a_mov(tmp_path: Path):
    spec = SyntheticVideoSpec(width=64, height=48, duration_s=0.2, codec="prores")
    clip = write_synthetic_video(tmp_path / "clip.mov", spec)
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "prores"
        assert stream.codec_context.pix_fmt == "yuv422p10le"
        assert len(list(container.decode(stream))) == clip.num_frames == 5


@pytest.mark.parametrize("rotation_deg", [90, -90, 180])
def test_rotated_clip_stores_display_rotation_and_shows_the_same_picture(
    tmp_path: Path, rotation_deg: int
):
    spec = SyntheticVideoSpec(width=48, height=80, duration_s=0.2, seed=5)
    upright = write_synthetic_video(tmp_path / "upright.mp4", spec)
    rotated = write_synthetic_video(
        tmp_path / "rotated.mp4", replace(spec, rotation_deg=rotation_deg)
    )
    assert rotated.faces == upright.faces  # the truth is in display pixels
    expected_coded = (80, 48) if rotation_deg in (90, -90) else (48, 80)
    assert rotated.coded_size == expected_coded
    reference = decoded_frames(upright.path)
    for index, frame in enumerate(decoded_frames(rotated.path)):
        assert frame.rotation % 360 == rotation_deg % 360  # PyAV reports 180 as -180
        assert (frame.width, frame.height) == expected_coded
        shown = upright_rgb(frame).astype(np.int16)
        expected = upright_rgb(reference[index]).astype(np.int16)
        # Both are lossy encodings of one image, coded in different orientations.
        assert np.abs(shown - expected).mean() < 4.0


def test_rotation_matches_ffmpeg_autorotate(tmp_path: Path):
    """FFmpeg's own player logic (the CLI's autorotate) must show our upright picture."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    import subprocess

    spec = SyntheticVideoSpec(width=48, height=80, duration_s=0.08, rotation_deg=-90)
    clip = write_synthetic_video(tmp_path / "phone.mp4", spec)
    raw = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(clip.path), "-frames:v", "1"]
        + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout
    shown_by_ffmpeg = np.frombuffer(raw, np.uint8).reshape(80, 48, 3)
    ours = upright_rgb(decoded_frames(clip.path)[0])
    assert np.abs(shown_by_ffmpeg.astype(np.int16) - ours).max() <= 2  # swscale vs swscale


def test_vfr_clip_has_irregular_timestamps_as_returned(tmp_path: Path):
    fps = Fraction(30)
    spec = SyntheticVideoSpec(width=64, height=48, fps=fps, duration_s=1.5, is_vfr=True, seed=2)
    clip = write_synthetic_video(tmp_path / "vfr.mp4", spec)
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base
        assert time_base is not None
        pts = sorted(packet.pts for packet in container.demux(stream) if packet.pts is not None)
    times = [float(tick * time_base) for tick in pts]
    assert times == pytest.approx(clip.frame_times_s, abs=1e-9)  # 90 kHz ticks survive the mux
    intervals = np.diff(times)
    nominal_s = float(1 / fps)
    assert intervals.min() < 0.8 * nominal_s and intervals.max() > 1.3 * nominal_s
    assert clip.duration_s == pytest.approx(1.5, abs=nominal_s)
    assert len(decoded_frames(clip.path)) == clip.num_frames


def test_two_faces_have_a_clearly_largest_speaker_inside_the_frame(tmp_path: Path):
    spec = SyntheticVideoSpec(width=96, height=64, duration_s=1.0, num_faces=2, seed=4)
    clip = write_synthetic_video(tmp_path / "two.mp4", spec)
    for faces in clip.faces:
        speaker, other = faces
        assert speaker.area_px > 2.0 * other.area_px
        assert other.mouth_open == 0.0
        for face in faces:
            x1, y1, x2, y2 = face.box_xyxy
            assert 0.0 <= x1 < x2 <= spec.width and 0.0 <= y1 < y2 <= spec.height
    json_frames = clip.to_json()["frames"]
    assert isinstance(json_frames, list) and len(json_frames[0]["faces"]) == 2


def test_face_moves_zooms_and_its_mouth_follows_the_speech(tmp_path: Path):
    spec = SyntheticVideoSpec(width=96, height=96, duration_s=2.0, seed=1)
    clip = write_synthetic_video(tmp_path / "talk.mp4", spec)
    speaker = [faces[0] for faces in clip.faces]
    centers = np.array([face.center_xy for face in speaker])
    sizes = np.array([face.half_height_px for face in speaker])
    assert np.ptp(centers, axis=0).min() > 2.0 and np.ptp(sizes) > 0.1 * sizes.mean()
    mouth_truth = np.array([face.mouth_open for face in speaker])
    expected = spec.speech().envelope_at(np.array(clip.frame_times_s))
    np.testing.assert_allclose(mouth_truth, expected, atol=1e-12)  # same formula, float64
    assert mouth_truth.max() > 0.5 and mouth_truth.min() < 0.05

    # The picture agrees: dark mouth-inside pixels within the mouth box grow with the opening.
    inside = np.array(FacePalette.seeded(0).mouth_inside, dtype=np.int16)
    dark_counts = []
    for face, frame in zip(speaker, decoded_frames(clip.path), strict=True):
        image = upright_rgb(frame).astype(np.int16)
        cx, cy = face.mouth_center_xy
        half_w = math.ceil(0.5 * face.half_width_px)
        half_h = math.ceil(face.mouth_half_height_px) + 2
        patch = image[
            max(0, int(cy) - half_h) : int(cy) + half_h + 1,
            max(0, int(cx) - half_w) : int(cx) + half_w + 1,
        ]
        dark_counts.append(int((np.abs(patch - inside).sum(axis=2) < 90).sum()))
    assert np.corrcoef(dark_counts, mouth_truth)[0, 1] > 0.9


def test_same_seed_gives_identical_frames_and_another_seed_does_not(tmp_path: Path):
    spec = SyntheticVideoSpec(width=64, height=48, duration_s=0.3, seed=11, is_vfr=True)
    first = write_synthetic_video(tmp_path / "a.mp4", spec)
    second = write_synthetic_video(tmp_path / "b.mp4", spec)
    other = write_synthetic_video(tmp_path / "c.mp4", replace(spec, seed=12))
    assert first.faces == second.faces and first.frame_times_s == second.frame_times_s
    frames_a = [frame.to_ndarray(format="rgb24") for frame in decoded_frames(first.path)]
    frames_b = [frame.to_ndarray(format="rgb24") for frame in decoded_frames(second.path)]
    frames_c = [frame.to_ndarray(format="rgb24") for frame in decoded_frames(other.path)]
    assert all(np.array_equal(a, b) for a, b in zip(frames_a, frames_b, strict=True))
    assert not np.array_equal(frames_a[0], frames_c[0])


@pytest.mark.parametrize(("codec", "suffix"), [("h264", ".mp4"), ("prores", ".mov")])
def test_muxed_aac_audio_has_the_asked_rate_channels_and_length(
    tmp_path: Path, codec: str, suffix: str
):
    audio = AudioSpec(sample_rate_hz=48000, num_channels=2)
    spec = SyntheticVideoSpec(
        width=64, height=48, fps=Fraction(30000, 1001), duration_s=1.0, codec=codec, audio=audio
    )
    clip = write_synthetic_video(tmp_path / f"talk{suffix}", spec)
    with av.open(str(clip.path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert stream.codec_context.sample_rate == 48000
        assert stream.codec_context.layout.nb_channels == 2
        num_samples = sum(frame.samples for frame in container.decode(stream))
    # The speech lasts the asked duration (the video ends on a whole frame). AAC codes whole
    # 1024-sample frames and the mux trims the priming, so at most one frame extra decodes.
    expected = round(spec.duration_s * 48000)
    assert expected <= num_samples <= expected + 1024


def test_timecode_is_stored(tmp_path: Path):
    spec = SyntheticVideoSpec(width=64, height=48, duration_s=0.2, timecode="01:02:03:04")
    clip = write_synthetic_video(tmp_path / "tc.mov", spec)
    with av.open(str(clip.path)) as container:
        assert container.streams.video[0].metadata["timecode"] == "01:02:03:04"


def test_truth_file_round_trips(tmp_path: Path):
    spec = SyntheticVideoSpec(width=64, height=48, duration_s=0.2, num_faces=2)
    clip = write_synthetic_video(tmp_path / "clip.mp4", spec)
    clip.save_truth(tmp_path / "truth.json")
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["spec"]["fps"] == "25" and truth["coded_size"] == [64, 48]
    assert [frame["time_s"] for frame in truth["frames"]] == list(clip.frame_times_s)
    assert truth["frames"][3]["faces"][1]["box_xyxy"] == list(clip.faces[3][1].box_xyxy)


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        (SyntheticVideoSpec(width=63, height=48), "clip.mp4"),
        (SyntheticVideoSpec(codec="vp9"), "clip.mp4"),
        (SyntheticVideoSpec(num_faces=3), "clip.mp4"),
        (SyntheticVideoSpec(codec="prores"), "clip.mp4"),
    ],
)
def test_impossible_specs_raise_media_errors(tmp_path: Path, spec: SyntheticVideoSpec, name: str):
    with pytest.raises(MediaError) as caught:
        write_synthetic_video(tmp_path / name, spec)
    assert caught.value.code == "bad_spec"

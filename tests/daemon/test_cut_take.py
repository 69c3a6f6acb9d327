"""The take of a job whose source was cut to its used range (what ``RemoteMedia.upload``
sends) is the take of the whole source: every frame, the take's timecode, its display size
and its audio. Made the way the worker makes it (``parse_job``, ``file_frames``, the rendered
dialogue, ``DubPipeline.run``) on the tiny model."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from opentimelineio.opentime import RationalTime, TimeRange
from support.takes import ONE_STEP, frames_md5

from xdub.job.cut_source import cut_job_source
from xdub.job.timeline import DialogueClip, SourceClip, build_job, job_to_json, parse_job
from xdub.media.audio import load_audio
from xdub.media.mix import write_dialogue_wav
from xdub.media.probe import probe, scan_media
from xdub.media.synthetic import (
    AudioSpec,
    SyntheticVideoSpec,
    write_synthetic_audio,
    write_synthetic_video,
)
from xdub.pipeline import DubPipeline
from xdub.protocol.timecode import timecode_to_frames
from xdub_daemon.submit import file_frames

FPS = 25
USED_FRAMES = 10
"""One window: the face tracker's per-frame cost is what makes a tiny take slow."""


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir: Path) -> DubPipeline:
    return DubPipeline(tiny_model_dir, device="cpu", precision="fp32")


def _take(pipeline: DubPipeline, otio_json: str, folder: Path) -> Path:
    folder.mkdir()
    job = parse_job(otio_json)
    source = scan_media(job.video_path)
    frames = file_frames(job, source)
    dialogue = write_dialogue_wav(job.dialogue, folder / "dialogue.wav")
    output = folder / "take.mp4"
    pipeline.run(job.video_path, dialogue, output, ONE_STEP, frames=frames, source=source)
    return output


@pytest.mark.timeout(1200)
@pytest.mark.parametrize(
    ("codec", "suffix", "duration_s", "first", "rotation_deg", "timecode"),
    [
        # Long GOP (key frames at 0 and 250, B-frames), the source's own AAC track dropped.
        ("h264", ".mp4", 12.0, 255, 0, "01:00:00:00"),
        # Intra-only, cut at the in-point; a phone's portrait display matrix.
        ("prores", ".mov", 4.0, 62, -90, "10:00:00:00"),
    ],
)
def test_the_take_of_the_cut_is_the_take_of_the_whole_source(
    pipeline: DubPipeline,
    tmp_path: Path,
    codec: str,
    suffix: str,
    duration_s: float,
    first: int,
    rotation_deg: int,
    timecode: str,
) -> None:
    spec = SyntheticVideoSpec(
        width=96,
        height=128,  # portrait: the rotation shows in the take's display size
        fps=Fraction(FPS),
        duration_s=duration_s,
        codec=codec,
        rotation_deg=rotation_deg,
        timecode=timecode,
        audio=AudioSpec() if codec == "h264" else None,
        seed=3,
    )
    video, speech = tmp_path / f"source{suffix}", tmp_path / "speech.wav"
    write_synthetic_video(video, spec)
    write_synthetic_audio(speech, spec.speech(), AudioSpec())
    origin = timecode_to_frames(timecode, Fraction(FPS))
    num_frames = probe(video).num_frames
    source = SourceClip(
        video,
        TimeRange(RationalTime(origin + first, FPS), RationalTime(USED_FRAMES, FPS)),
        TimeRange(RationalTime(origin, FPS), RationalTime(num_frames, FPS)),
    )
    heard = TimeRange(RationalTime(0, 16000), RationalTime(16000 * USED_FRAMES // FPS, 16000))
    dialogue = DialogueClip(speech, heard, RationalTime(0, FPS))
    job = job_to_json(build_job(source, [dialogue], name="job", host="test"))
    cut_job = cut_job_source(job, tmp_path)
    cut_video = parse_job(cut_job).video_path
    assert cut_video != video and cut_video.stat().st_size < video.stat().st_size / 2
    assert not probe(cut_video).has_audio

    whole_take = _take(pipeline, job, tmp_path / "whole")
    cut_take = _take(pipeline, cut_job, tmp_path / "cut")
    assert frames_md5(cut_take) == frames_md5(whole_take)
    whole, cut = probe(whole_take), probe(cut_take)
    assert cut.timecode == whole.timecode and whole.timecode is not None
    assert timecode_to_frames(whole.timecode, Fraction(FPS)) == origin + first
    assert (cut.display_width, cut.display_height) == (whole.display_width, whole.display_height)
    assert (cut.display_width, cut.display_height) == (96, 128)
    assert (cut.num_frames, cut.duration_s) == (whole.num_frames, whole.duration_s)
    assert load_audio(cut_take).tobytes() == load_audio(whole_take).tobytes()

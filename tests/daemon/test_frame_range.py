"""A job over part of a file, through the real daemon: the take holds exactly those frames."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.daemon import make_clip, range_job

from xdub.errors import JobError
from xdub.protocol.records import JobState

CLIP_S = 1.8
"""45 frames at 25 fps, so frames 10..40 lie inside with room on both sides."""
FIRST_FRAME, NUM_FRAMES = 10, 30
START_TIMECODE = "01:00:00:00"


def test_a_frame_range_gives_a_take_of_those_frames_with_their_timecode(
    running_daemon, tmp_path: Path, fast_options
) -> None:
    from xdub.job.result import parse_result
    from xdub.media.probe import probe
    from xdub.protocol.timecode import shift_timecode

    clip = make_clip(tmp_path, "ranged", CLIP_S, seed=3, timecode=START_TIMECODE)
    source = probe(clip.video)
    otio = range_job(clip.video, clip.audio, FIRST_FRAME, NUM_FRAMES)
    with running_daemon.client() as client:
        job = client.wait(client.submit(otio, fast_options()).job_id, 300)
    assert job.state is JobState.DONE, job.error
    assert job.result_otio is not None
    take = probe(parse_result(job.result_otio).take_path)
    assert take.num_frames == NUM_FRAMES
    assert take.timecode == shift_timecode(START_TIMECODE, FIRST_FRAME, source.fps)
    assert take.timecode != START_TIMECODE


def test_a_range_past_the_end_of_the_file_is_a_precise_bad_job(
    running_daemon, short_clip, fast_options
) -> None:
    """The OTIO says the media is longer than the file (a shorter file replaced it)."""
    from xdub.media.probe import probe

    num_frames = probe(short_clip.video).num_frames
    otio = range_job(short_clip.video, short_clip.audio, num_frames - 2, 5, num_frames + 10)
    with running_daemon.client() as client:
        with pytest.raises(JobError) as caught:
            client.submit(otio, fast_options())
    assert caught.value.code == "bad_job"
    assert f"{num_frames - 2}..{num_frames + 2}" in str(caught.value)
    assert f"0..{num_frames - 1}" in str(caught.value)

"""The daemon's ``submit`` refuses a job whose media or take folder cannot work, at once and
precisely (issue 20, "Fail fast"), before the worker or any model sees it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from xdub.errors import XdubError
from xdub.media.bad_samples import write_bad_video

REFUSAL_BOUND_S = 5.0
"""Wall time of a refused submit on a warm daemon; milliseconds when the machine is idle."""


def _with_video(otio: str, old: Path, new: Path) -> str:
    return otio.replace(json.dumps(str(old))[1:-1], json.dumps(str(new))[1:-1])


@pytest.mark.parametrize(
    ("case", "code", "reason"),
    [
        ("a_folder", "bad_job", "is a folder, not a media file"),
        ("wav_named_mp4", "no_video", "no video stream"),
        ("empty_file", "unreadable_media", "not a readable media file"),
        ("truncated_mp4", "unreadable_media", "not a readable media file"),
    ],
)
def test_submit_refuses_bad_media_at_once(
    running_daemon, short_clip, fast_options, tmp_path: Path, case: str, code: str, reason: str
) -> None:
    video = write_bad_video(case, tmp_path)
    otio = _with_video(short_clip.otio, short_clip.video, video)
    with running_daemon.client() as client:
        client.hello()
        started = time.monotonic()
        with pytest.raises(XdubError) as caught:
            client.submit(otio, fast_options())
        refusal_s = time.monotonic() - started
        assert all(job.name != video.stem for job in client.list_jobs(limit=1000))
    assert caught.value.code == code and reason in caught.value.message, caught.value
    assert refusal_s < REFUSAL_BOUND_S


def test_submit_refuses_a_take_folder_without_room_or_that_is_a_file(
    running_daemon, short_clip, fast_options, tmp_path: Path
) -> None:
    from support.small_fs import fill, small_filesystem

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with running_daemon.client() as client:
        with pytest.raises(XdubError, match="is a file, not a folder"):
            client.submit(short_clip.otio, fast_options(output_dir=str(a_file)))
        with small_filesystem(tmp_path / "small") as small:
            fill(small, 16 * 1024)
            with pytest.raises(XdubError) as caught:
                client.submit(short_clip.otio, fast_options(output_dir=str(small)))
    assert caught.value.code == "disk_full"
    assert str(small) in caught.value.message and "needs about" in caught.value.message

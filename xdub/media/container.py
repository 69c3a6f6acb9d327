"""Opening media with PyAV: one place that turns FFmpeg failures into ``MediaError``s."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
from av.container import InputContainer
from av.video.stream import VideoStream

from xdub.errors import MediaError


@contextmanager
def open_media(path: Path) -> Iterator[InputContainer]:
    """Open ``path`` for reading; FFmpeg errors while open become ``MediaError``s naming it."""
    if path.is_dir():
        raise MediaError(
            f"{path} is a folder, not a media file", code="not_a_file", hint="choose a file"
        )
    if not path.is_file():
        raise MediaError(f"{path}: no such file", code="not_found")
    try:
        container = av.open(str(path), mode="r")
    except av.FFmpegError as error:
        raise MediaError(
            f"{path}: not a readable media file ({error})",
            code="unreadable_media",
            hint="check that the file is a complete video or audio file",
        ) from error
    try:
        yield container
    except av.FFmpegError as error:
        raise MediaError(
            f"{path}: damaged media data ({error})", code="unreadable_media"
        ) from error
    finally:
        container.close()


@contextmanager
def open_video(path: Path) -> Iterator[tuple[InputContainer, VideoStream]]:
    """Open ``path`` and pick its first video stream (not cover art); MediaError if none."""
    with open_media(path) as container:
        streams = [
            stream
            for stream in container.streams.video
            if not stream.disposition & av.stream.Disposition.attached_pic
        ]
        if not streams:
            raise MediaError(
                f"{path}: no video stream", code="no_video", hint="choose a video file"
            )
        yield container, streams[0]

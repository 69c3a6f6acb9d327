"""The fail-fast checks of a dub request, run before torch or any model is loaded.

``check_dub_request`` is what ``xdub dub`` (in-process or through the daemon) and the daemon's
``submit`` run first: the stdlib checks of ``xdub.protocol.precheck`` (both inputs are files;
a folder is named as one; the take's folder is writable), then a PyAV probe of the video and of
the dialogue, the codec against the take's name, and free disk space for the take's estimated
size. A bad input is refused in well under a second with the precise reason.
"""

from __future__ import annotations

from pathlib import Path

from xdub.errors import MediaError
from xdub.media.codecs import TakeSettings
from xdub.media.container import open_media
from xdub.media.probe import MediaInfo, probe
from xdub.protocol.precheck import (
    check_free_space,
    check_input_file,
    check_output_folder,
    estimate_take_bytes,
)


def check_audio(path: Path) -> None:
    """``bad_audio`` unless ``path`` has an audio stream whose first frame decodes."""
    with open_media(path) as container:
        if not container.streams.audio:
            raise MediaError(
                f"{path}: no audio stream", code="bad_audio", hint="choose the dialogue's file"
            )
        for _ in container.decode(container.streams.audio[0]):
            return
    raise MediaError(f"{path}: its audio stream holds no sound", code="bad_audio")


def check_take_space(folder: Path, info: MediaInfo, num_frames: int, codec: str) -> None:
    """``disk_full`` unless ``folder`` has room for a take of ``num_frames`` frames of ``info``."""
    size = estimate_take_bytes(info.display_width, info.display_height, num_frames, codec)
    check_free_space(folder, size, f"the take ({num_frames} frames of {codec})")


def check_dub_request(
    video: Path, audio: Path, take_folder: Path, codec: str, *, output: Path | None = None
) -> MediaInfo:
    """Refuse a request that cannot succeed (``MediaError`` saying why); returns the video's
    probe. ``output``: the take's path, whose extension must suit ``codec``."""
    video, audio = Path(video), Path(audio)
    check_input_file(video, "a video")
    check_input_file(audio, "an audio or video file")
    if output is not None:
        TakeSettings(codec=codec).check_path(Path(output))
    check_output_folder(take_folder)
    info = probe(video)
    check_audio(audio)
    check_take_space(take_folder, info, info.num_frames, codec)
    return info

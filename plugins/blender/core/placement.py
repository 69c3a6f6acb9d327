"""Where a take goes: the first channel above the original that is free over its frames, and the
folder beside the .blend its file goes to."""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..xdub_protocol.exceptions import JobError

MAX_CHANNEL = 128
"""The VSE has channels 1-128."""


def first_free_channel(
    occupied: Iterable[tuple[int, int, int]], above: int, start: int, end: int
) -> int:
    """The lowest channel > ``above`` with no strip in ``[start, end)``.

    ``occupied`` holds ``(channel, frame_final_start, frame_final_end)`` of the other strips in
    the same strip collection (the scene's top level or the meta strip being edited).
    """
    busy = {channel for channel, left, right in occupied if left < end and start < right}
    for channel in range(above + 1, MAX_CHANNEL + 1):
        if channel not in busy:
            return channel
    raise JobError(
        f"channels {above + 1}-{MAX_CHANNEL} are all in use over frames {start}-{end - 1}",
        code="bad_job",
        hint="free a channel above the clip, then place the take again",
    )


TAKES_FOLDER = "xdub_takes"
"""Takes of a saved .blend go to ``//xdub_takes/`` beside it: the project keeps them, and the
daemon's retention prunes only its own job folders."""


def takes_folder(blend_path: str) -> str | None:
    """The absolute ``xdub_takes`` folder beside ``blend_path``; ``None`` for an unsaved .blend
    (the take then stays in the daemon's job folder)."""
    if not blend_path:
        return None
    return os.path.join(os.path.dirname(os.path.abspath(blend_path)), TAKES_FOLDER)

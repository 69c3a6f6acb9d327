"""What a job's result timeline says (the take, the host, the clip) and revealing the take.

Result timelines are OTIO JSON strings (``xdub.job.result``); reading one never touches the
take itself. Revealing opens the platform's file manager on the take's folder, with the take
selected where the file manager can do that.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentimelineio as otio

from xdub.errors import JobError
from xdub.job.result import parse_result
from xdub.job.timeline import NAMESPACE, ROLE_SOURCE, plain


@dataclass(frozen=True)
class TimelineFacts:
    """What the tray shows of a job timeline: the source clip's name and the host."""

    clip_name: str | None
    host: str | None


def timeline_facts(otio_json: str) -> TimelineFacts:
    """The source clip name and host of a job or result timeline (``None`` where absent)."""
    timeline: Any = otio.adapters.read_from_string(otio_json, "otio_json")
    host = plain(timeline.metadata.get(NAMESPACE, {})).get("host")
    clip_name = None
    for track in timeline.video_tracks():
        for item in track:
            role = plain(getattr(item, "metadata", {}).get(NAMESPACE, {})).get("role")
            if isinstance(item, otio.schema.Clip) and role == ROLE_SOURCE:
                clip_name = item.name or Path(item.media_reference.target_url).name
    return TimelineFacts(clip_name=clip_name, host=host if isinstance(host, str) else None)


def take_path(result_otio: str) -> Path:
    """The take file of a done job's result timeline."""
    return parse_result(result_otio).take_path


def reveal_command(path: Path, platform: str = sys.platform) -> list[str]:
    """The command that shows ``path`` in the file manager of ``platform``."""
    if platform == "darwin":
        return ["open", "-R", str(path)]
    if platform == "win32":
        return ["explorer", f"/select,{path}"]
    return ["xdg-open", str(path.parent)]


Opener = Callable[[list[str]], None]


def _spawn(command: list[str]) -> None:
    subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def reveal(path: Path, opener: Opener = _spawn) -> list[str]:
    """Show the take in the file manager; raises ``JobError`` if it is gone. Returns the command."""
    if not path.is_file():
        raise JobError(
            f"the take {path} does not exist any more",
            hint="it was moved or deleted; retry the job to render it again",
        )
    command = reveal_command(path)
    try:
        opener(command)
    except OSError as error:
        raise JobError(
            f"cannot open the file manager with {command[0]!r}: {error}",
            hint=f"open {path.parent} by hand",
        ) from error
    return command

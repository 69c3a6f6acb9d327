"""The result of a job as OTIO: the job timeline plus the take, aligned with the source clip.

The result timeline is the job timeline (every namespace kept) with one more video track whose
clip has role ``result`` and points at the rendered take. It has the source clip's record range
and source range: the take keeps the source's timecode. ``metadata["xdub"]`` on that clip holds
the job id, the model, the settings used and the warnings.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from xdub.job.timeline import NAMESPACE, ROLE_RESULT, DubJob, bad_job, media_clip, silence
from xdub.protocol.takes import read_take

RESULT_TRACK_NAME = "xdub take"


@dataclass(frozen=True)
class DubResult:
    """The take a job produced, read back from its result timeline."""

    job_id: str
    take_path: Path
    source_range: TimeRange
    record_start_s: float
    model: str
    settings: dict[str, Any]
    warnings: tuple[str, ...]
    speed: dict[str, Any]
    """Speed settings in effect and what they did (quality, preset, skipped steps...)."""

    @property
    def is_draft(self) -> bool:
        return bool(self.speed.get("is_draft"))


def build_result(
    job: DubJob,
    take_path: Path,
    *,
    job_id: str,
    model: str,
    settings: Mapping[str, Any],
    warnings: Sequence[str] = (),
    speed: Mapping[str, Any] | None = None,
) -> Any:
    """The job timeline plus a video track whose clip (role result) is the take, aligned with
    the source clip: same record range, same source range (the take keeps the timecode).
    ``speed``: the take's speed metadata; a draft take's clip is named ``... (xdub draft)``."""
    if not take_path.is_absolute():
        raise bad_job(f"the take path {take_path} is not absolute")
    timeline = copy.deepcopy(job.timeline)
    source = next(c for c in timeline.video_tracks()[0] if isinstance(c, otio.schema.Clip))
    used = source.trimmed_range()
    track = otio.schema.Track(name=RESULT_TRACK_NAME, kind=otio.schema.TrackKind.Video)
    placed = source.range_in_parent()
    if placed.start_time.value > 0:
        track.append(silence(placed.start_time))
    take = media_clip(take_path, used, used, ROLE_RESULT)
    speed = dict(speed or {})
    take.name = f"{source.name} (xdub draft)" if speed.get("is_draft") else f"{source.name} (xdub)"
    take.metadata[NAMESPACE].update(
        job_id=job_id,
        model=model,
        settings=dict(settings),
        warnings=[*job.warnings, *warnings],
        speed=speed,
    )
    track.append(take)
    timeline.tracks.append(track)
    return timeline


def parse_result(otio_json: str) -> DubResult:
    """The take of a result timeline, read by the hosts' one strict reader
    (``xdub.protocol.takes``); raises ``bad_job`` naming what is wrong."""
    take = read_take(otio_json)
    rate = float(take.rate)
    return DubResult(
        job_id=take.job_id,
        take_path=Path(take.path),
        source_range=TimeRange(
            RationalTime(take.start_tc_frame, rate), RationalTime(take.num_frames, rate)
        ),
        record_start_s=float(take.record_start_s),
        model=take.model,
        settings=take.settings,
        warnings=take.warnings,
        speed=take.speed,
    )

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
from opentimelineio.opentime import TimeRange

from xdub.otio_job import NAMESPACE, ROLE_RESULT, DubJob, bad_job, media_clip, plain, silence

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
    """The take of a result timeline; raises ``bad_job`` if it has none."""
    timeline = otio.adapters.read_from_string(otio_json, "otio_json")
    takes = [
        clip
        for track in timeline.video_tracks()
        for clip in track
        if isinstance(clip, otio.schema.Clip)
        and plain(clip.metadata.get(NAMESPACE, {})).get("role") == ROLE_RESULT
    ]
    if len(takes) != 1:
        raise bad_job(
            f"a result timeline has one clip with role 'result', this one has {len(takes)}"
        )
    take = takes[0]
    info = plain(take.metadata[NAMESPACE])
    return DubResult(
        job_id=info["job_id"],
        take_path=Path(take.media_reference.target_url),
        source_range=take.source_range,
        record_start_s=take.range_in_parent().start_time.to_seconds(),
        model=info["model"],
        settings=info["settings"],
        warnings=tuple(info["warnings"]),
        speed=info.get("speed", {}),
    )

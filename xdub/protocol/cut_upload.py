"""Before a remote upload, replace a job's long source video by the cut of the range it uses.

``cut_job_source`` cuts the source clip's file (``xdub.media.cut``) into ``folder`` and
rewrites the job to name the cut: the clip's ``source_range`` (and so the take's timecode)
stays, its media's ``available_range`` starts ``offset_s`` later and is as long as the cut,
so the job's frames sit at the same job times. When the cut is not worth it or not exact,
the job is returned unchanged (the whole file goes). Not for hosts' stdlib-only clients.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from xdub.media.cut import cut_video_range
from xdub.media.probe import probe

log = logging.getLogger(__name__)


def cut_job_source(otio_json: str, folder: Path) -> str:
    """``otio_json`` naming a cut of its source video in ``folder``, or unchanged (a job
    this cannot read goes as it is: the upload and the daemon say what is wrong with it)."""
    try:
        return _cut_job_source(otio_json, folder)
    except (OSError, ValueError, otio.exceptions.OTIOError) as exc:
        log.info("uploading the whole source: cannot cut it (%s)", exc)
        return otio_json


def _cut_job_source(otio_json: str, folder: Path) -> str:
    timeline = otio.adapters.read_from_string(otio_json, "otio_json")
    if not isinstance(timeline, otio.schema.Timeline):
        return otio_json
    clips = [c for t in timeline.video_tracks() for c in t if isinstance(c, otio.schema.Clip)]
    if len(clips) != 1 or clips[0].source_range is None:
        return otio_json
    clip = clips[0]
    reference = clip.media_reference
    url = reference.target_url
    if not url.startswith("file://") and "://" in url:
        return otio_json
    path = Path(url.removeprefix("file://"))
    used = clip.source_range
    rate = used.start_time.rate
    origin = reference.available_range.start_time if reference.available_range else None
    origin = origin or RationalTime(0, rate)
    start_s = (used.start_time - origin).to_seconds()
    end_s = start_s + used.duration.to_seconds()
    digest = hashlib.sha256(f"{path.resolve()}:{path.stat().st_mtime_ns}".encode()).hexdigest()
    target = folder / f"{digest[:16]}-{start_s:.6f}-{end_s:.6f}{path.suffix or '.mp4'}"
    cut = cut_video_range(path, target, start_s, end_s)
    if cut is None:
        return otio_json
    duration_s = probe(cut.path).duration_s
    offset = RationalTime.from_seconds(float(cut.offset_s), rate)
    reference.target_url = str(cut.path)
    reference.available_range = TimeRange(
        origin + offset, RationalTime.from_seconds(duration_s, rate)
    )
    log.info("uploading %s cut from %.3f s (%s)", path, float(cut.offset_s), cut.path)
    return json.dumps(json.loads(otio.adapters.write_to_string(timeline, "otio_json")))

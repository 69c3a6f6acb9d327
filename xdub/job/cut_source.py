"""Before a remote upload, replace a job's long source video by the cut of the range it uses.

``cut_job_source`` cuts the source clip's file (``xdub.media.cut``) into ``folder`` and
rewrites the job to name the cut: the clip's ``source_range`` (and so the take's timecode)
stays, its media's ``available_range`` starts ``first_frame`` frames later and is as long as
the cut, so the job's frames sit at the same job times. The job is returned unchanged (the
whole file goes) where a cut could change the take or saves nothing: a variable-frame-rate
source or one whose rate is not the clip's (the daemon maps those by timestamp, which a cut
would shift), a dialogue read from the source file itself, a range using most of the file,
or a cut whose probe does not match the source's (rotation, rate, timecode, frame times).
``xdub.client.DaemonClient`` runs it as its ``RemoteMedia.prepare``; hosts' stdlib-only
clients have none (they send the whole file).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from xdub.errors import XdubError
from xdub.job.timeline import parse_job
from xdub.media.cut import VideoCut, cut_video_range
from xdub.media.fps import RATE_TOLERANCE_FPS
from xdub.media.probe import MediaScan, scan_media

log = logging.getLogger(__name__)

TIME_MATCH_S = 1e-6
"""The cut's frame times must equal the source's (moved by the cut's offset) within this."""


def cut_job_source(otio_json: str, folder: Path) -> str:
    """``otio_json`` naming a cut of its source video in ``folder``, or unchanged (a job
    this cannot read goes as it is: the upload and the daemon say what is wrong with it)."""
    try:
        return _cut_job_source(otio_json, folder)
    except (OSError, ValueError, XdubError, otio.exceptions.OTIOError) as exc:
        log.info("uploading the whole source: cannot cut it (%s)", exc)
        return otio_json


def _cut_job_source(otio_json: str, folder: Path) -> str:
    job = parse_job(otio_json)  # the frames the daemon will take, as it reckons them
    path, rate = job.video_path, job.fps
    if path.resolve() in {segment.path.resolve() for segment in job.dialogue.segments}:
        log.info("uploading %s whole: the dialogue is read from it too", path)
        return otio_json
    source = scan_media(path)
    info = source.info
    if info.is_vfr:
        log.info("uploading %s whole: its frame rate varies (frames map by timestamp)", path)
        return otio_json
    if abs(float(info.fps) - rate) >= RATE_TOLERANCE_FPS:
        log.info("uploading %s whole: its rate %s is not the clip's %g", path, info.fps, rate)
        return otio_json
    first, count = job.start_frame, job.num_frames
    start_s, end_s = first / rate, (first + count) / rate
    digest = hashlib.sha256(f"{path.resolve()}:{path.stat().st_mtime_ns}".encode()).hexdigest()
    target = folder / f"{digest[:16]}-{first}-{count}{path.suffix or '.mp4'}"
    cut = cut_video_range(path, target, start_s, end_s, timecode=info.timecode, fps=info.fps)
    if cut is None:
        return otio_json
    cut_scan = scan_media(cut.path)
    mismatch = _mismatch(source, cut_scan, cut, first, count)
    if mismatch:
        log.info("uploading %s whole: its cut %s", path, mismatch)
        return otio_json
    clip = next(c for c in job.timeline.video_tracks()[0] if isinstance(c, otio.schema.Clip))
    reference = clip.media_reference
    available = reference.available_range
    origin = available.start_time if available is not None else RationalTime(0, rate)
    reference.target_url = str(cut.path)
    reference.available_range = TimeRange(
        origin + RationalTime(cut.first_frame, rate),
        RationalTime(cut_scan.info.num_frames, rate),
    )
    log.info("uploading %s cut from frame %d (%s)", path, cut.first_frame, cut.path)
    return json.dumps(json.loads(otio.adapters.write_to_string(job.timeline, "otio_json")))


def _mismatch(source: MediaScan, cut_scan: MediaScan, cut: VideoCut, first: int, count: int) -> str:
    """What in the cut's probe differs from what the take needs of the source, or ''."""
    info, cut_info = source.info, cut_scan.info
    if (cut_info.rotation_deg, cut_info.width, cut_info.height) != (
        info.rotation_deg,
        info.width,
        info.height,
    ):
        return "changed the display rotation or the frame size"
    if cut_info.is_vfr or cut_info.fps != info.fps:
        return f"has the rate {cut_info.fps}, not {info.fps}"
    if cut_info.num_frames != cut.num_frames:
        return f"shows {cut_info.num_frames} frames, not the {cut.num_frames} put in it"
    if cut_info.timecode != cut.timecode:
        return f"has the timecode {cut_info.timecode}, not {cut.timecode}"
    # The used frames and the one after them (where the take's last frame ends).
    stop = min(first + count + 1, info.num_frames)
    if cut.first_frame > first or stop - cut.first_frame > cut_info.num_frames:
        return "misses some of the used frames"
    times = source.times.relative_s()
    want = times[first:stop] - times[cut.first_frame]
    got = cut_scan.times.relative_s()[first - cut.first_frame : stop - cut.first_frame]
    if not np.allclose(got, want, rtol=0.0, atol=TIME_MATCH_S):
        return "moved the used frames' times"
    return ""

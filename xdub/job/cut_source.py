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
from typing import Any

import numpy as np
import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from xdub.errors import MediaError
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
    except (OSError, ValueError, MediaError, otio.exceptions.OTIOError) as exc:
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
    path = _local_path(reference.target_url)
    if path is None:
        return otio_json
    if path.resolve() in _audio_paths(timeline):
        log.info("uploading %s whole: the dialogue is read from it too", path)
        return otio_json
    used = clip.source_range
    rate = (reference.available_range or used).duration.rate
    source = scan_media(path)
    info = source.info
    if info.is_vfr:
        log.info("uploading %s whole: its frame rate varies (frames map by timestamp)", path)
        return otio_json
    if abs(float(info.fps) - rate) >= RATE_TOLERANCE_FPS:
        log.info("uploading %s whole: its rate %s is not the clip's %g", path, info.fps, rate)
        return otio_json
    origin = reference.available_range.start_time if reference.available_range else None
    origin = origin or RationalTime(0, rate)
    start_s = (used.start_time - origin).to_seconds()
    end_s = start_s + used.duration.to_seconds()
    first, count = round(start_s * rate), round(used.duration.rescaled_to(rate).value)
    digest = hashlib.sha256(f"{path.resolve()}:{path.stat().st_mtime_ns}".encode()).hexdigest()
    target = folder / f"{digest[:16]}-{start_s:.6f}-{end_s:.6f}{path.suffix or '.mp4'}"
    cut = cut_video_range(path, target, start_s, end_s, timecode=info.timecode, fps=info.fps)
    if cut is None:
        return otio_json
    cut_scan = scan_media(cut.path)
    mismatch = _mismatch(source, cut_scan, cut, first, count)
    if mismatch:
        log.info("uploading %s whole: its cut %s", path, mismatch)
        return otio_json
    reference.target_url = str(cut.path)
    reference.available_range = TimeRange(
        origin + RationalTime(cut.first_frame, rate),
        RationalTime(cut_scan.info.num_frames, rate),
    )
    log.info("uploading %s cut from frame %d (%s)", path, cut.first_frame, cut.path)
    return json.dumps(json.loads(otio.adapters.write_to_string(timeline, "otio_json")))


def _local_path(url: str) -> Path | None:
    """The file a ``target_url`` names, or None when it is not a local file."""
    if not url.startswith("file://") and "://" in url:
        return None
    return Path(url.removeprefix("file://"))


def _audio_paths(timeline: Any) -> set[Path]:
    """The files the timeline's audio clips read."""
    paths = set()
    for track in timeline.audio_tracks():
        for item in track:
            if isinstance(item, otio.schema.Clip):
                path = _local_path(getattr(item.media_reference, "target_url", "") or "")
                if path is not None:
                    paths.add(path.resolve())
    return paths


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

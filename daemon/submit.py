"""Accepting a ``submit``: validate the OTIO job (in the validator child, see
``xdub_daemon.validator``), fix its seed, and add it to the store once.

Submitting the same id with the same job again returns the existing job (a client may resend
after a timeout); a different job under a used id is ``job_exists``.
"""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xdub.errors import JobError
from xdub.job.timeline import DubJob, bad_job, parse_job
from xdub.media.fps import RATE_TOLERANCE_FPS
from xdub.media.probe import MediaScan, scan_media
from xdub.media.request_checks import check_audio, check_take_space
from xdub.protocol.messages import Submit
from xdub.protocol.precheck import check_output_folder
from xdub.protocol.records import DubOptions
from xdub_daemon.jobs import Job
from xdub_daemon.store import JobStore

if TYPE_CHECKING:  # the validator's child imports this module to validate
    from xdub_daemon.validator import ValidatedJob


def random_seed() -> int:
    """A seed for a job submitted without one (recorded in its options and result)."""
    return secrets.randbelow(2**31)


def file_frames(job: DubJob, source: MediaScan | None = None) -> tuple[int, int]:
    """``(first, count)``: the file frame indices the job's video clip uses.

    ``source``: the video's ``scan_media`` when the caller has it (else the file is read).

    A constant-rate file at the job's rate maps one to one (``job.start_frame``,
    ``job.num_frames``). Otherwise (variable frame rate, or a clip rate other than the file's)
    the clip's time span is mapped by timestamp: the file frames starting in
    ``[start, end)``, each edge moved back half a clip frame so rounding keeps its frame.
    Raises ``bad_job`` when the range is empty or reaches past the file.
    """
    source = source or scan_media(job.video_path)
    info = source.info
    if not info.is_vfr and abs(float(info.fps) - job.fps) < RATE_TOLERANCE_FPS:
        first, count = job.start_frame, job.num_frames
    else:
        times_s = source.times.relative_s()
        start_s = job.start_frame / job.fps - 0.5 / job.fps
        first = int(np.searchsorted(times_s, start_s))
        stop = int(np.searchsorted(times_s, start_s + job.duration_s))
        count = stop - first
    if first < 0 or count < 1 or first + count > info.num_frames:
        raise bad_job(
            f"the video clip uses frames {first}..{first + count - 1} of {job.video_path}, "
            f"which has frames 0..{info.num_frames - 1}",
            hint="trim the clip to the media it has (relink it if the file was replaced)",
        )
    return first, count


def validate_job(otio: str, options: DubOptions, take_folder: Path) -> DubJob:
    """The parsed job; ``bad_job`` if it is invalid or its frame range is not in the file, a
    ``MediaError`` if its media do not read, the take's folder is not writable or lacks the
    room for the take (``disk_full``)."""
    job = parse_job(otio)
    source = scan_media(job.video_path)
    _, num_frames = file_frames(job, source)
    for path in sorted({segment.path for segment in job.dialogue.segments}):
        check_audio(path)
    check_output_folder(take_folder)
    check_take_space(take_folder, source.info, num_frames, options.codec.value)
    return job


def _same_job(existing: Job, submit: Submit) -> bool:
    options = submit.options
    if options.seed is None:
        options = dataclasses.replace(options, seed=existing.options.seed)
    return (existing.otio, existing.options, existing.priority) == (
        submit.otio,
        options,
        submit.priority,
    )


def resolved_options(options: DubOptions) -> DubOptions:
    """``options`` with a random seed when none was given."""
    if options.seed is not None:
        return options
    return dataclasses.replace(options, seed=random_seed())


def existing_job(store: JobStore, submit: Submit) -> Job | None:
    """The job already submitted under ``submit``'s id (a client may resend after a timeout),
    or None; ``job_exists`` when that id holds a different job."""
    existing = store.find(submit.job_id)
    if existing is None or _same_job(existing, submit):
        return existing
    raise JobError(
        f"a different job was already submitted with the id {submit.job_id}",
        code="job_exists",
        hint="use a fresh job id (a uuid4 hex) for a new job",
    )


def add_job(store: JobStore, submit: Submit, job: ValidatedJob, *, client: str) -> Job:
    """Store the validated ``job`` of ``submit``, queued."""
    return store.add(
        submit.job_id,
        name=job.name,
        otio=submit.otio,
        options=resolved_options(submit.options),
        priority=submit.priority,
        client=client,
        host=job.host,
        clip=job.clip,
        warnings=job.warnings,
    )

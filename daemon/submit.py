"""Accepting a ``submit``: validate the OTIO job, fix its seed, and add it to the store once.

Submitting the same id with the same job again returns the existing job (a client may resend
after a timeout); a different job under a used id is ``job_exists``.
"""

from __future__ import annotations

import dataclasses
import secrets

from xdub.errors import JobError
from xdub.media.probe import probe
from xdub.otio_job import DubJob, bad_job, parse_job
from xdub.protocol.messages import Submit
from xdub.protocol.records import JobOptions
from xdub_daemon.jobs import Job
from xdub_daemon.store import JobStore

FRAME_SLACK = 1
"""Frames a clip may differ from its file's count and still count as the whole file (container
durations round)."""


def random_seed() -> int:
    """A seed for a job submitted without one (recorded in its options and result)."""
    return secrets.randbelow(2**31)


def validate_job(otio: str) -> DubJob:
    """The parsed job; ``bad_job`` if it is invalid or asks for what the daemon cannot do yet.

    The pipeline dubs whole files, so the video clip must use its whole media file.
    """
    job = parse_job(otio)
    info = probe(job.video_path)
    if job.start_frame != 0 or abs(job.num_frames - info.num_frames) > FRAME_SLACK:
        raise bad_job(
            f"the video clip uses frames {job.start_frame}-{job.start_frame + job.num_frames} of "
            f"{job.video_path}, which has {info.num_frames}; the daemon dubs whole files only",
            hint="render the clip's range to its own file (or use the whole clip), then submit",
        )
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


def resolved_options(options: JobOptions) -> JobOptions:
    """``options`` with a random seed when none was given."""
    if options.seed is not None:
        return options
    return dataclasses.replace(options, seed=random_seed())


def accept_submit(store: JobStore, submit: Submit, *, client: str) -> tuple[Job, bool]:
    """The job for ``submit`` and whether it is new."""
    existing = store.find(submit.job_id)
    if existing is not None:
        if _same_job(existing, submit):
            return existing, False
        raise JobError(
            f"a different job was already submitted with the id {submit.job_id}",
            code="job_exists",
            hint="use a fresh job id (a uuid4 hex) for a new job",
        )
    job = validate_job(submit.otio)
    added = store.add(
        submit.job_id,
        name=job.name,
        otio=submit.otio,
        options=resolved_options(submit.options),
        priority=submit.priority,
        client=client,
        host=job.host,
        warnings=job.warnings,
    )
    return added, True

"""A job as the daemon stores it, and the one function that changes its state."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from xdub.errors import JobError
from xdub.protocol.messages import JobStateEvent
from xdub.protocol.records import (
    DubOptions,
    ErrorInfo,
    JobInfo,
    JobState,
    Progress,
    TakeQuality,
)


@dataclass(frozen=True)
class Job:
    """One row of the job store. ``otio`` is the submitted OTIO JSON; ``queue_seq`` orders the
    queue (first in, first out within a ``priority``); ``windows_done`` is the checkpoint;
    ``event_seq`` the number of the job's latest event (``job_state`` or ``progress``)."""

    job_id: str
    name: str
    otio: str
    options: DubOptions
    state: JobState
    priority: int
    client: str
    host: str
    queue_seq: int
    created_at: str
    updated_at: str
    progress: Progress | None = None
    error: ErrorInfo | None = None
    result_otio: str | None = None
    warnings: tuple[str, ...] = ()
    windows_done: int = 0
    attempts: int = 0
    clip: str | None = None
    quality: TakeQuality | None = None
    """The quality check of the finished take (schema 3)."""
    event_seq: int = 0

    def info(self) -> JobInfo:
        """The job as ``list`` and ``get`` return it."""
        return JobInfo(
            job_id=self.job_id,
            name=self.name,
            state=self.state,
            created_at=self.created_at,
            updated_at=self.updated_at,
            options=self.options,
            progress=self.progress,
            error=self.error,
            result_otio=self.result_otio,
            warnings=self.warnings,
            host=self.host,
            clip=self.clip,
            quality=self.quality,
        )


def state_event(job: Job, previous: JobState | None) -> JobStateEvent:
    """The ``job_state`` event of ``job`` having just come from ``previous`` (None: new)."""
    return JobStateEvent(
        job.job_id, job.state, previous, job.error, job.result_otio, seq=job.event_seq
    )


def transition(job: Job, new_state: JobState) -> Job:
    """``job`` in ``new_state``; raises ``JobError(bad_state)`` for a move TRANSITIONS forbids.

    Leaving for ``queued`` clears the error and result; the progress stays until replaced.
    """
    if not job.state.can_become(new_state):
        raise JobError(
            f"job {job.job_id} is {job.state.value} and cannot become {new_state.value}",
            code="bad_state",
            hint="retry works on failed or cancelled jobs, cancel on queued or running ones",
        )
    changes: dict[str, object] = {"state": new_state}
    if new_state is JobState.QUEUED:
        changes.update(error=None, result_otio=None, quality=None)
    return dataclasses.replace(job, **changes)  # type: ignore[arg-type]

"""Following jobs without blocking: ``JobWatch`` (``DaemonClient.watch``) and its ``JobUpdate``.

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module. A host's UI
thread or timer calls ``JobWatch.poll``: it takes in events and reports them as ``JobUpdate``
records, each ``seq`` once and in order: the events a client missed (it subscribed late, the
daemon restarted, a slow subscriber's queue dropped some) are replayed with ``job_events`` when
a ``seq`` jumps, after every reconnect and every ``refresh_s`` (an older daemon's jobs are
re-read instead). While the daemon is away it keeps trying for ``reconnect_s``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xdub.errors import XdubError
from xdub.protocol.errors import ErrorCode
from xdub.protocol.messages import JobStateEvent, ProgressEvent
from xdub.protocol.records import ErrorInfo, JobInfo, JobState, Progress
from xdub.protocol.schema import Content, parse_version

if TYPE_CHECKING:
    from xdub.protocol.client import DaemonClient, EventCallback

log = logging.getLogger(__name__)

RECONNECT_CODES = (ErrorCode.DAEMON_NOT_RUNNING.value, ErrorCode.TIMEOUT.value)
"""Errors that mean "the daemon is away (for now)": a client reconnects after them."""
JOB_EVENTS_VERSION = (1, 2)
"""The protocol version that numbers job events (``seq``) and replays them (``job_events``)."""


@dataclass(frozen=True)
class JobUpdate:
    """What changed about a watched job.

    ``state`` is ``None`` when only the progress moved. ``seq`` is the event's number (``None``
    from a daemon older than 1.2); ``job`` is the stored job when the update comes from reading
    it (older daemons only), and ``replayed`` says the change happened while the client was not
    listening. ``error`` is the job's failure, or the request's (e.g. the job is unknown) with
    ``state`` ``None``.
    """

    job_id: str
    state: JobState | None = None
    progress: Progress | None = None
    error: ErrorInfo | None = None
    result_otio: str | None = None
    job: JobInfo | None = None
    replayed: bool = False
    seq: int | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state is not None and self.state.is_terminal


def _error_info(error: XdubError) -> ErrorInfo:
    return ErrorInfo(error.code, error.message, error.hint)


def _current_run_start(events: list[JobStateEvent | ProgressEvent]) -> int:
    """Where the job's current run begins in ``events`` (in ``seq`` order): after the last
    terminal state that a later event follows. A retried job's earlier run ended there, and
    its ``cancelled`` or ``failed`` must not end a watch of the run the retry started."""
    for index in range(len(events) - 2, -1, -1):
        event = events[index]
        if isinstance(event, JobStateEvent) and event.state.is_terminal:
            return index + 1
    return 0


class JobWatch:
    """Follows jobs through events, catch-ups and daemon restarts; never blocks long.

    ``poll(timeout_s)`` returns the updates of up to ``timeout_s``; a job leaves the watch
    once its terminal update was returned. ``connected`` and ``last_error`` describe the link.

    Against a 1.2+ daemon every ``job_state`` and ``progress`` event of a watched job is
    reported once, in ``seq`` order: the first catch-up replays the job's kept events
    (``job_events``); a live event whose ``seq`` jumps, every reconnect and every ``refresh_s``
    ask ``job_events`` for the ones after the last reported (``replayed`` updates); a live event
    already reported is dropped. A finished job's replay skips its progress events (the daemon
    drops them), and a retried job's replay skips the run that ended before the retry. An
    older daemon has no event numbers: its jobs' stored state is re-read.
    """

    def __init__(
        self, client: DaemonClient, job_ids: Iterable[str] = (), *, refresh_s: float = 2.0
    ) -> None:
        self.client = client
        self.refresh_s = refresh_s
        self.on_event: EventCallback | None = None
        self.connected = False
        self.last_error: XdubError | None = None
        self._seen: dict[str, tuple[Any, ...]] = {}
        self._last_seq: dict[str, int] = {}
        self._watched: set[str] = set()
        self._next_refresh = 0.0
        self._down_since: float | None = None
        for job_id in job_ids:
            self.add(job_id)

    @property
    def job_ids(self) -> frozenset[str]:
        return frozenset(self._watched)

    def add(self, job_id: str) -> None:
        """Follow ``job_id`` too; its stored state is read on the next ``poll``."""
        self._watched.add(job_id)
        self._next_refresh = 0.0

    def discard(self, job_id: str) -> None:
        self._watched.discard(job_id)
        self._seen.pop(job_id, None)
        self._last_seq.pop(job_id, None)

    def poll(self, timeout_s: float) -> list[JobUpdate]:
        """Updates within ``timeout_s``; while the daemon is away, ``[]`` (it retries)."""
        if not self._watched:
            time.sleep(timeout_s)
            return []
        updates: list[JobUpdate] = []
        try:
            if not self.connected or time.monotonic() >= self._next_refresh:
                updates += self._catch_up(reconnected=not self.connected and self._seen != {})
            for event in self.client.events(timeout_s, self._watched):
                if self.on_event is not None:
                    self.on_event(event)
                updates += self._take_live(event.content)
        except XdubError as error:
            if error.code not in RECONNECT_CODES:
                raise
            self._lost(error)
            time.sleep(min(timeout_s, 0.5))
        return [update for update in updates if self._keep(update)]

    def _lost(self, error: XdubError) -> None:
        now = time.monotonic()
        self._down_since = self._down_since or now
        self.connected, self.last_error = False, error
        self.client.transport.close()
        if now - self._down_since > self.client.reconnect_s:
            raise error
        log.info("the daemon is not answering (%s); trying again", error.code)

    def _catch_up(self, *, reconnected: bool) -> list[JobUpdate]:
        """What the watch may have missed: each job's events after the last one reported, or
        (a daemon without ``job_events``) its stored state."""
        daemon = self.client.daemon or self.client.hello()
        if parse_version(daemon.protocol_version) < JOB_EVENTS_VERSION:
            return self._refresh(replayed=reconnected)
        updates = []
        for job_id in sorted(self._watched):
            updates += self._replay(job_id)
        self._connected_now()
        return updates

    def _replay(self, job_id: str) -> list[JobUpdate]:
        """The kept events of ``job_id`` after the last one reported, in ``seq`` order; they
        count as replayed once the watch has reported any of the job's events."""
        replayed = job_id in self._last_seq
        last = self._last_seq.get(job_id, 0)
        try:
            reply = self.client.job_events(job_id, last)
        except XdubError as error:
            if error.code in RECONNECT_CODES:
                raise
            return [JobUpdate(job_id, error=_error_info(error))]
        kept: list[JobStateEvent | ProgressEvent] = [*reply.job_states, *reply.progress]
        events = sorted(kept, key=lambda event: event.seq or 0)
        missed = [event for event in events if (event.seq or 0) > last]
        self._last_seq[job_id] = max([last, reply.last_seq, *(e.seq or 0 for e in missed)])
        current = missed[_current_run_start(missed) :]
        return [self._from_event(event, replayed=replayed) for event in current]

    def _take_live(self, content: Content) -> list[JobUpdate]:
        """A live event's update, after the events a jump in its ``seq`` skipped; none for
        an event already reported."""
        if not isinstance(content, (JobStateEvent, ProgressEvent)):
            return []
        seq, last = content.seq, self._last_seq.get(content.job_id)
        if seq is None or last is None:
            if seq is not None:
                self._last_seq[content.job_id] = seq
            return [self._from_event(content)]
        if seq <= last:
            return []
        if seq == last + 1:
            self._last_seq[content.job_id] = seq
            return [self._from_event(content)]
        return self._replay(content.job_id)  # the daemon stored the event before publishing it

    def _connected_now(self) -> None:
        self.connected, self.last_error, self._down_since = True, None, None
        self._next_refresh = time.monotonic() + self.refresh_s

    def _refresh(self, *, replayed: bool) -> list[JobUpdate]:
        updates = []
        for job_id in sorted(self._watched):
            try:
                job = self.client.get(job_id)
            except XdubError as error:
                if error.code in RECONNECT_CODES:
                    raise
                updates.append(JobUpdate(job_id, error=_error_info(error)))
                continue
            updates.append(
                JobUpdate(
                    job_id,
                    state=job.state,
                    progress=job.progress,
                    error=job.error,
                    result_otio=job.result_otio,
                    job=job,
                    replayed=replayed,
                )
            )
        self._connected_now()
        return updates

    @staticmethod
    def _from_event(content: JobStateEvent | ProgressEvent, *, replayed: bool = False) -> JobUpdate:
        if isinstance(content, ProgressEvent):
            return JobUpdate(
                content.job_id, progress=content.progress, replayed=replayed, seq=content.seq
            )
        return JobUpdate(
            content.job_id,
            state=content.state,
            error=content.error,
            result_otio=content.result_otio,
            replayed=replayed,
            seq=content.seq,
        )

    def _keep(self, update: JobUpdate) -> bool:
        """Drop repeats (a re-read that changed nothing); forget jobs that ended."""
        if update.job_id not in self._watched:
            return False
        if update.state is None and update.error is not None:
            self.discard(update.job_id)  # the request failed: the job is unknown
            return True
        last = self._seen.get(update.job_id, (None, None))
        state = update.state if update.state is not None else last[0]
        progress = update.progress if update.progress is not None else last[1]
        if (state, progress) == last and update.job is not None:
            return False
        self._seen[update.job_id] = (state, progress)
        if update.is_terminal:
            self.discard(update.job_id)
        return True

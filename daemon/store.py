"""The job store: SQLite in WAL mode, one schema (``PRAGMA user_version``), one transaction per
state change, and a folder per job for its artifacts.

Only the daemon's server process opens the store; the worker writes nothing but checkpoint
files into the job folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from xdub.errors import JobError
from xdub.protocol.connection import DIR_MODE as PRIVATE_DIR_MODE
from xdub.protocol.connection import FILE_MODE as PRIVATE_FILE_MODE
from xdub.protocol.messages import JobStateEvent, ProgressEvent
from xdub.protocol.records import DubOptions, ErrorInfo, JobState, Progress, TakeQuality
from xdub.protocol.schema import format_utc, parse_utc
from xdub_daemon.config import Retention
from xdub_daemon.faults import store_fault_hook
from xdub_daemon.jobs import Job, state_event, transition

JobEvent = JobStateEvent | ProgressEvent

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4
_SCHEMA = """
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    otio TEXT NOT NULL,
    options TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL,
    client TEXT NOT NULL,
    host TEXT NOT NULL,
    queue_seq INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    progress TEXT,
    error TEXT,
    result_otio TEXT,
    warnings TEXT NOT NULL,
    windows_done INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    clip TEXT,
    quality TEXT,
    event_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_queue ON jobs (state, priority DESC, queue_seq);
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    msg_type TEXT NOT NULL,
    content TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
"""
"""The current schema, for a new store."""
_MIGRATIONS = {
    1: "ALTER TABLE jobs ADD COLUMN clip TEXT;",
    2: "ALTER TABLE jobs ADD COLUMN quality TEXT;",
    3: "ALTER TABLE jobs ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;"
    " CREATE TABLE events (job_id TEXT NOT NULL, seq INTEGER NOT NULL, msg_type TEXT NOT NULL,"
    " content TEXT NOT NULL, PRIMARY KEY (job_id, seq));",
}
"""The SQL that takes a store from schema ``N`` to ``N + 1``. 1 -> 2: the clip name of each job
(protocol 1.1); 2 -> 3: the take's quality check (protocol 1.2); jobs stored before have none
(NULL). 3 -> 4: the numbered event log of each job (protocol 1.2); jobs stored before start it
at 1."""
_COLUMNS = tuple(field.name for field in dataclasses.fields(Job))


def now_utc() -> str:
    """The current time as the store writes it (UTC ISO 8601 with microseconds)."""
    return format_utc(datetime.now(timezone.utc))


def _to_row(job: Job) -> dict[str, Any]:
    return {
        **{name: getattr(job, name) for name in _COLUMNS},
        "options": json.dumps(job.options.to_json()),
        "state": job.state.value,
        "progress": json.dumps(job.progress.to_json()) if job.progress else None,
        "error": json.dumps(job.error.to_json()) if job.error else None,
        "warnings": json.dumps(list(job.warnings)),
        "quality": json.dumps(job.quality.to_json()) if job.quality else None,
    }


def _from_row(row: sqlite3.Row) -> Job:
    values: dict[str, Any] = {name: row[name] for name in _COLUMNS}
    progress, error, quality = row["progress"], row["error"], row["quality"]
    values.update(
        options=DubOptions.from_json(json.loads(row["options"])),
        state=JobState(row["state"]),
        progress=Progress.from_json(json.loads(progress)) if progress else None,
        error=ErrorInfo.from_json(json.loads(error)) if error else None,
        warnings=tuple(json.loads(row["warnings"])),
        quality=TakeQuality.from_json(json.loads(quality)) if quality else None,
    )
    return Job(**values)


def _unknown(job_id: str) -> JobError:
    return JobError(f"no job has the id {job_id!r}", code="unknown_job", hint="list the jobs")


class JobStore:
    """Jobs in ``path`` (SQLite) and their folders under ``jobs_dir``. Use from one thread."""

    def __init__(self, path: Path, jobs_dir: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        jobs_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        os.chmod(jobs_dir, PRIVATE_DIR_MODE)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE_MODE))
        os.chmod(path, PRIVATE_FILE_MODE)  # SQLite gives its -wal and -shm files this mode too
        self.jobs_dir = jobs_dir
        self._db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise JobError(f"{path}: SQLite refused WAL mode ({mode})", code="internal")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._before_statement = store_fault_hook()
        self._migrate(path)

    def _migrate(self, path: Path) -> None:
        """Create the schema in a new store, or bring an older one up to date, in one
        transaction; a newer store is refused."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if not 0 <= version < SCHEMA_VERSION:
            raise JobError(
                f"{path}: job store schema {version} is not this daemon's {SCHEMA_VERSION}",
                code="internal",
                hint="install the xdub version that wrote it, or move the file away",
            )
        if version == 0:
            script = _SCHEMA
        else:
            script = "".join(_MIGRATIONS[step] for step in range(version, SCHEMA_VERSION))
            log.info(
                "%s: upgrading the job store from schema %d to %d", path, version, SCHEMA_VERSION
            )
        with self._transaction() as db:
            db.executescript(f"BEGIN; {script} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self._db.in_transaction:
            raise RuntimeError("nested transaction")
        try:
            yield self._db
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _execute(self, sql: str, params: dict[str, Any] | Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement of a write transaction (past the test fault hook, when set)."""
        if self._before_statement is not None:
            self._before_statement(sql)
        return self._db.execute(sql, params)

    def _write(self, sql: str, params: dict[str, Any] | Sequence[Any]) -> None:
        with self._transaction():
            self._execute("BEGIN IMMEDIATE")
            self._execute(sql, params)
            self._execute("COMMIT")

    # -- reading -----------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        """The job ``job_id``; raises ``unknown_job``."""
        row = self._db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise _unknown(job_id)
        return _from_row(row)

    def find(self, job_id: str) -> Job | None:
        try:
            return self.get(job_id)
        except JobError:
            return None

    def list_jobs(self, states: Sequence[JobState] | None = None, limit: int = 100) -> list[Job]:
        """Jobs newest first (by submission), of ``states`` (None: all)."""
        sql, params = "SELECT * FROM jobs", []
        if states is not None:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            params = [state.value for state in states]
        sql += " ORDER BY created_at DESC, queue_seq DESC LIMIT ?"
        rows = self._db.execute(sql, [*params, limit]).fetchall()
        return [_from_row(row) for row in rows]

    def queue(self) -> list[Job]:
        """Queued jobs in the order they will run: priority first, then first in first out."""
        rows = self._db.execute(
            "SELECT * FROM jobs WHERE state = 'queued' ORDER BY priority DESC, queue_seq"
        ).fetchall()
        return [_from_row(row) for row in rows]

    def queue_position(self, job_id: str) -> int:
        """Jobs ahead of ``job_id`` in the queue (a running one included); 0 when next."""
        job = self.get(job_id)
        if job.state is not JobState.QUEUED:
            return 0
        order = [queued.job_id for queued in self.queue()]
        running = self._db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'running'").fetchone()
        return order.index(job_id) + int(running[0])

    def job_dir(self, job_id: str) -> Path:
        """The job's artifact folder (created on demand)."""
        folder = self.jobs_dir / job_id
        folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        return folder

    # -- writing -----------------------------------------------------------------------------

    def _next_seq(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM jobs").fetchone()
        return int(row[0])

    def add(
        self,
        job_id: str,
        *,
        name: str,
        otio: str,
        options: DubOptions,
        priority: int,
        client: str,
        host: str,
        clip: str | None = None,
        warnings: Sequence[str] = (),
    ) -> Job:
        """A new queued job at the back of its priority's queue; ``clip`` is the name of the
        clip it dubs."""
        stamp = now_utc()
        with self._transaction():
            self._execute("BEGIN IMMEDIATE")
            job = Job(
                job_id=job_id,
                name=name,
                otio=otio,
                options=options,
                state=JobState.QUEUED,
                priority=priority,
                client=client,
                host=host,
                clip=clip,
                queue_seq=self._next_seq(),
                created_at=stamp,
                updated_at=stamp,
                warnings=tuple(warnings),
                event_seq=1,
            )
            row = _to_row(job)
            names, params = ", ".join(row), ", ".join(f":{name}" for name in row)
            self._execute(f"INSERT INTO jobs ({names}) VALUES ({params})", row)
            self._log_event(state_event(job, None))
            self._execute("COMMIT")
        return job

    def change_state(self, job_id: str, new_state: JobState, **fields: Any) -> Job:
        """Move ``job_id`` to ``new_state`` (refusing illegal moves) and set ``fields``, and log
        its ``job_state`` event (``state_event``), in one transaction. A job re-queued goes to
        the back of the queue unless ``keep_place``; a finished job's progress events go."""
        keep_place = fields.pop("keep_place", False)
        with self._transaction():
            self._execute("BEGIN IMMEDIATE")
            old = self.get(job_id)
            job = dataclasses.replace(transition(old, new_state), updated_at=now_utc(), **fields)
            if new_state is JobState.QUEUED and not keep_place:
                job = dataclasses.replace(job, queue_seq=self._next_seq())
            if new_state is JobState.RUNNING:
                job = dataclasses.replace(job, attempts=old.attempts + 1)
            job = dataclasses.replace(job, event_seq=old.event_seq + 1)
            row = _to_row(job)
            sets = ", ".join(f"{name} = :{name}" for name in row if name != "job_id")
            self._execute(f"UPDATE jobs SET {sets} WHERE job_id = :job_id", row)
            self._log_event(state_event(job, old.state))
            if new_state.is_terminal:
                self._execute(
                    "DELETE FROM events WHERE job_id = ? AND msg_type = ?",
                    (job_id, ProgressEvent.MSG_TYPE),
                )
            self._execute("COMMIT")
        return job

    def set_progress(self, job_id: str, progress: Progress) -> ProgressEvent:
        """Record the latest progress (not a state change) and log its event, in one
        transaction; returns the event (numbered)."""
        with self._transaction():
            self._execute("BEGIN IMMEDIATE")
            seq = self.get(job_id).event_seq + 1
            self._execute(
                "UPDATE jobs SET progress = ?, updated_at = ?, event_seq = ? WHERE job_id = ?",
                (json.dumps(progress.to_json()), now_utc(), seq, job_id),
            )
            event = ProgressEvent(job_id, progress, seq=seq)
            self._log_event(event)
            self._execute("COMMIT")
        return event

    def _log_event(self, event: JobEvent) -> None:
        assert event.seq is not None
        self._execute(
            "INSERT INTO events (job_id, seq, msg_type, content) VALUES (?, ?, ?, ?)",
            (event.job_id, event.seq, event.MSG_TYPE, json.dumps(event.to_json())),
        )

    def job_events(self, job_id: str, after_seq: int = 0) -> tuple[int, list[JobEvent]]:
        """The job's latest event number and its kept events numbered above ``after_seq``, in
        order; raises ``unknown_job``."""
        last_seq = self.get(job_id).event_seq
        rows = self._db.execute(
            "SELECT msg_type, content FROM events WHERE job_id = ? AND seq > ? ORDER BY seq",
            (job_id, after_seq),
        ).fetchall()
        kinds: dict[str, type[JobEvent]] = {
            JobStateEvent.MSG_TYPE: JobStateEvent,
            ProgressEvent.MSG_TYPE: ProgressEvent,
        }
        events = [kinds[row["msg_type"]].from_json(json.loads(row["content"])) for row in rows]
        return last_seq, events

    def set_windows_done(self, job_id: str, windows_done: int) -> None:
        """Record that ``windows_done`` windows are checkpointed in the job folder."""
        self._write("UPDATE jobs SET windows_done = ? WHERE job_id = ?", (windows_done, job_id))

    def requeue_running(self) -> list[Job]:
        """At start-up: jobs left ``running`` by a dead daemon go back to the queue, in place."""
        running = self.list_jobs([JobState.RUNNING], limit=1000)
        return [self.change_state(job.job_id, JobState.QUEUED, keep_place=True) for job in running]

    def delete(self, job_id: str, *, delete_files: bool) -> None:
        """Forget a terminal job; ``delete_files`` also removes its folder."""
        job = self.get(job_id)
        if not job.state.is_terminal:
            raise JobError(
                f"job {job_id} is {job.state.value}; only finished jobs can be deleted",
                code="bad_state",
                hint="cancel it first",
            )
        with self._transaction():
            self._execute("BEGIN IMMEDIATE")
            self._execute("DELETE FROM events WHERE job_id = ?", (job_id,))
            self._execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
            self._execute("COMMIT")
        if delete_files:
            shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)

    def prune(self, retention: Retention, *, clock: float | None = None) -> list[str]:
        """Delete finished jobs older than the retention age or beyond its count, with folders."""
        now = datetime.fromtimestamp(time.time() if clock is None else clock, timezone.utc)
        cutoff = now - timedelta(days=retention.max_age_days)
        terminal = [JobState.DONE, JobState.FAILED, JobState.CANCELLED]
        finished = self.list_jobs(terminal, limit=1_000_000)
        doomed = [
            job.job_id
            for index, job in enumerate(finished)
            if index >= retention.max_jobs or parse_utc(job.updated_at) < cutoff
        ]
        for job_id in doomed:
            self.delete(job_id, delete_files=True)
        if doomed:
            log.info("pruned %d finished jobs", len(doomed))
        return doomed

    # -- settings ----------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        rows = self._db.execute("SELECT name, value FROM settings").fetchall()
        return {row["name"]: json.loads(row["value"]) for row in rows}

    def save_settings(self, values: dict[str, Any]) -> None:
        """Store every item of ``values`` in one transaction."""
        with self._transaction():
            self._execute("BEGIN IMMEDIATE")
            for name, value in values.items():
                self._execute(
                    "INSERT INTO settings (name, value) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (name, json.dumps(value)),
                )
            self._execute("COMMIT")

"""Store durability: a daemon killed between the SQL statements of a job-state write, and the
store's files copied mid-transaction (as a power cut leaves them), both open with
``PRAGMA integrity_check`` ok and every job exactly as its last committed write left it.

The faults come from the store's test hook (``XDUB_TEST_STORE_FAULT``, ``xdub_daemon.faults``).
The sweep forks a process that runs a job's life through a real store and dies (or freezes for
the copy) before every write statement in turn; the daemon test does the same to a real daemon
taking a real job, restarted as a user would.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from support.daemon import Clip, DaemonProcess
from support.store import add_job

from xdub.errors import ProtocolError
from xdub.protocol.messages import JobStateEvent
from xdub.protocol.records import Codec, DubOptions, ErrorInfo, JobState, Progress, Stage
from xdub_daemon.config import Retention
from xdub_daemon.faults import EXIT_CODE, STORE_FAULT_ENV
from xdub_daemon.store import JobStore

DB_NAME = "jobs.sqlite3"
DB_FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm")
Op = Callable[[JobStore], None]


def _add(job_id: str) -> Op:
    return lambda store: add_job(store, job_id)


def _change(job_id: str, state: JobState, **fields: object) -> Op:
    def change(store: JobStore) -> None:
        store.change_state(job_id, state, **fields)

    return change


def _progress(store: JobStore) -> None:
    store.set_progress("a", PROGRESS)


def _prune(store: JobStore) -> None:
    store.prune(Retention(max_jobs=10))


PROGRESS = Progress(Stage.DENOISE, clip=1, num_clips=2, step=1, num_steps=4, fraction=0.1)
FAILURE = ErrorInfo("worker_crashed", "the worker died", "retry")
JOB_LIFE: tuple[tuple[Op, dict[str, JobState | None]], ...] = (
    (_add("a"), {"a": JobState.QUEUED}),
    (_add("b"), {"b": JobState.QUEUED}),
    (_change("a", JobState.RUNNING), {"a": JobState.RUNNING}),
    (_progress, {}),
    (lambda store: store.set_windows_done("a", 1), {}),
    (_change("a", JobState.DONE, result_otio="{}"), {"a": JobState.DONE}),
    (_change("b", JobState.RUNNING), {"b": JobState.RUNNING}),
    (_change("b", JobState.FAILED, error=FAILURE), {"b": JobState.FAILED}),
    (_change("b", JobState.QUEUED), {"b": JobState.QUEUED}),
    (lambda store: store.delete("a", delete_files=True), {"a": None}),
    (_prune, {}),
    (lambda store: store.save_settings({"queue_paused": True}), {}),
)
"""Store writes in the order a daemon makes them, each with the job states it leaves
(``None``: the job is gone)."""


def _expected(ops_done: int) -> dict[str, JobState]:
    states: dict[str, JobState | None] = {}
    for _, changes in JOB_LIFE[:ops_done]:
        states.update(changes)
    return {job_id: state for job_id, state in states.items() if state is not None}


def check_store(folder: Path, expected: dict[str, JobState]) -> None:
    """The store in ``folder`` opens, passes ``integrity_check``, holds exactly the jobs of
    ``expected`` in those states, and each job's event log ends in its state."""
    with closing(sqlite3.connect(folder / DB_NAME)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    store = JobStore(folder / DB_NAME, folder / "jobs")
    try:
        jobs = store.list_jobs(limit=1000)
        assert sorted(job.job_id for job in jobs) == sorted(expected)
        assert {job.job_id: job.state for job in jobs} == expected
        for job in jobs:
            last_seq, events = store.job_events(job.job_id)
            assert last_seq == job.event_seq == events[-1].seq
            states = [event for event in events if isinstance(event, JobStateEvent)]
            assert states[-1].state is job.state
    finally:
        store.close()


def _run_life(folder: Path, fault: str, done_fd: int) -> None:
    """In the forked child: the job's life on a store with ``fault``; each op's index goes to
    ``done_fd`` once it returned."""
    os.environ[STORE_FAULT_ENV] = fault
    store = JobStore(folder / DB_NAME, folder / "jobs")
    for index, (op, _) in enumerate(JOB_LIFE):
        op(store)
        os.write(done_fd, bytes([index]))
    store.close()


def _fork_life(folder: Path, fault: str) -> tuple[int, int, Path | None]:
    """Run the life in a child with ``fault``: (ops done, exit status, the copy of the store's
    files taken while a ``stop`` fault froze it, else None)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_fd)
            _run_life(folder, fault, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    _, status = os.waitpid(pid, os.WUNTRACED)
    copy = None
    if os.WIFSTOPPED(status):  # frozen mid-transaction: copy what a power cut would leave
        copy = folder.with_name(folder.name + "-copy")
        copy.mkdir()
        for name in DB_FILES:
            if (folder / name).exists():
                shutil.copyfile(folder / name, copy / name)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    with os.fdopen(read_fd, "rb") as done:
        ops_done = len(done.read())
    return ops_done, status, copy


@pytest.mark.parametrize("action", ["exit", "stop"])
@pytest.mark.parametrize("keyword", ["INSERT", "UPDATE", "DELETE", "COMMIT"])
def test_a_store_killed_or_copied_before_any_write_statement_opens_intact(
    tmp_path: Path, action: str, keyword: str
) -> None:
    faults_hit = 0
    for count in range(1, 40):
        folder = tmp_path / f"{count}"
        folder.mkdir()
        ops_done, status, copy = _fork_life(folder, f"{action}:{keyword}:{count}")
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            assert ops_done == len(JOB_LIFE)  # past the last such statement: the sweep is over
            break
        faults_hit += 1
        if action == "exit":
            assert os.WEXITSTATUS(status) == EXIT_CODE
        else:
            assert os.WTERMSIG(status) == signal.SIGKILL and copy is not None
            check_store(copy, _expected(ops_done))
        assert ops_done < len(JOB_LIFE)
        check_store(folder, _expected(ops_done))
    assert faults_hit >= 2, f"the life has only {faults_hit} {keyword} statements"


def test_a_daemon_killed_mid_write_and_a_mid_transaction_copy_lose_no_job(
    daemon_factory, short_clip: Clip, tmp_path: Path
) -> None:
    """Kill -9 between the statements of the job's ``running`` write, then freeze the next
    daemon inside a later commit and copy its files: both stores open intact, the job resent
    by the user exists once, and the third daemon finishes it."""
    options = DubOptions(codec=Codec.H264, num_steps=1, seed=7)
    job_id = "durable0001"
    # 1st daemon: commit 1 is the submit, commit 2 the job's running state; it dies before it.
    first = daemon_factory({STORE_FAULT_ENV: "exit:COMMIT:2"})
    first.start()
    with first.client("durable", timeout_s=5.0) as client:
        try:
            client.submit(short_clip.otio, options, job_id=job_id)
        except ProtocolError as error:  # the reply died queued in the daemon's socket
            assert error.code == "timeout"
    assert first.process is not None
    first.process.wait(120)
    assert first.process.returncode == EXIT_CODE
    check_store(first.data_dir, {job_id: JobState.QUEUED})

    # 2nd daemon: its commit 1 is the job's running state; it freezes before commit 2 (the
    # first progress), mid-transaction.
    second = DaemonProcess(first.root, first.model, {STORE_FAULT_ENV: "stop:COMMIT:2"})
    try:
        second.start(wait_models=False)
    except AssertionError:
        pass  # it may freeze before it answers
    _wait_stopped(second.pid)
    copy = tmp_path / "power-cut"
    copy.mkdir()
    for name in DB_FILES:
        if (first.data_dir / name).exists():
            shutil.copyfile(first.data_dir / name, copy / name)
    second.kill9()
    check_store(copy, {job_id: JobState.RUNNING})
    check_store(first.data_dir, {job_id: JobState.RUNNING})

    third = daemon_factory()
    third.start()
    with third.client("durable") as client:
        resent = client.submit(short_clip.otio, options, job_id=job_id)  # the user resends
        assert resent.job_id == job_id
        done = client.wait(job_id, 600)
        assert done.state is JobState.DONE, done.error
        assert [job.job_id for job in client.list_jobs()] == [job_id]
    third.stop()
    check_store(third.data_dir, {job_id: JobState.DONE})


def _wait_stopped(pid: int, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never stopped at its store fault")

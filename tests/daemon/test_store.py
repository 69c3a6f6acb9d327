"""The job store on real SQLite: schema, WAL, transitions, queue order, restart, retention."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from xdub.errors import JobError
from xdub.protocol.records import DubOptions, ErrorInfo, JobState, Progress, Stage
from xdub_daemon.config import Retention
from xdub_daemon.jobs import transition
from xdub_daemon.store import SCHEMA_VERSION, JobStore

SCHEMA_1 = """
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
    attempts INTEGER NOT NULL
);
CREATE INDEX jobs_queue ON jobs (state, priority DESC, queue_seq);
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version=1;
"""
"""The job store as protocol 1.0's daemon created it (schema 1, before ``clip``), kept verbatim."""


def _store(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "jobs.sqlite3", tmp_path / "jobs")


def _add(store: JobStore, job_id: str, priority: int = 0) -> None:
    store.add(
        job_id,
        name=f"take {job_id}",
        otio="{}",
        options=DubOptions(seed=1),
        priority=priority,
        client="test",
        host="cli",
        clip=f"clip of {job_id}",
    )


def test_schema_is_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    _store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "jobs.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    _store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "jobs.sqlite3")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(JobError, match="schema"):
        _store(tmp_path)


def _columns(path: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(path)
    try:
        return [(row[1], row[2]) for row in db.execute("PRAGMA table_info(jobs)")]
    finally:
        db.close()


def test_a_schema_1_store_is_upgraded_and_its_jobs_have_no_clip(tmp_path: Path) -> None:
    old_path = tmp_path / "old" / "jobs.sqlite3"
    old_path.parent.mkdir()
    db = sqlite3.connect(old_path)
    db.executescript(SCHEMA_1)
    db.execute(
        "INSERT INTO jobs VALUES ('old', 'Scene 1', '{}', ?, 'done', 0, 'resolve', 'resolve', 1,"
        " '2020-01-01T10:00:00Z', '2020-01-01T10:05:00Z', NULL, NULL, '{}', '[]', 2, 1)",
        (json.dumps(DubOptions(seed=4).to_json()),),
    )
    db.execute("INSERT INTO settings VALUES ('queue_paused', 'true')")
    db.commit()
    db.close()
    store = JobStore(old_path, tmp_path / "old" / "jobs")
    old = store.get("old")
    assert (old.name, old.host, old.clip, old.state, old.windows_done) == (
        "Scene 1",
        "resolve",
        None,
        JobState.DONE,
        2,
    )
    assert old.info().clip is None and old.options.seed == 4
    assert store.settings() == {"queue_paused": True}
    _add(store, "new")
    assert store.get("new").info().clip == "clip of new"
    store.close()
    _store(tmp_path).close()  # a new store, for comparison
    assert _columns(old_path) == _columns(tmp_path / "jobs.sqlite3")
    db = sqlite3.connect(old_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
    reopened = JobStore(old_path, tmp_path / "old" / "jobs")  # upgraded once, opens as is
    assert [job.job_id for job in reopened.list_jobs()] == ["new", "old"]
    reopened.close()


def test_job_round_trips_with_progress_error_and_warnings(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _add(store, "a")
    progress = Progress(Stage.DENOISE, 1, 2, 3, 4, 0.5, 2.0)
    store.change_state("a", JobState.RUNNING)
    store.set_progress("a", progress)
    error = ErrorInfo("no_face", "no face in a.mp4", "pick the speaker")
    store.change_state("a", JobState.FAILED, error=error, warnings=("short dialogue",))
    store.close()
    job = _store(tmp_path).get("a")
    assert (job.state, job.progress, job.error, job.warnings) == (
        JobState.FAILED,
        progress,
        error,
        ("short dialogue",),
    )
    assert job.info().job_id == "a" and job.attempts == 1


def test_transition_refuses_illegal_moves(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _add(store, "a")
    job = store.get("a")
    with pytest.raises(JobError) as caught:
        transition(job, JobState.DONE)
    assert caught.value.code == "bad_state"
    store.change_state("a", JobState.RUNNING)
    store.change_state("a", JobState.DONE, result_otio="{}")
    for state in JobState:
        with pytest.raises(JobError):
            store.change_state("a", state)
    assert store.get("a").state is JobState.DONE


def test_queue_is_fifo_within_priorities_and_retry_goes_to_the_back(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for job_id, priority in (("a", 0), ("b", 0), ("urgent", 5), ("c", 0)):
        _add(store, job_id, priority)
    assert [job.job_id for job in store.queue()] == ["urgent", "a", "b", "c"]
    assert store.queue_position("b") == 2
    store.change_state("a", JobState.CANCELLED)
    store.change_state("a", JobState.QUEUED)
    assert [job.job_id for job in store.queue()] == ["urgent", "b", "c", "a"]


def test_running_jobs_go_back_to_their_place_at_start_up(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _add(store, "a")
    _add(store, "b")
    store.change_state("a", JobState.RUNNING)
    store.set_windows_done("a", 2)
    store.close()
    store = _store(tmp_path)
    assert [job.job_id for job in store.requeue_running()] == ["a"]
    assert [job.job_id for job in store.queue()] == ["a", "b"]
    assert store.get("a").windows_done == 2


def test_delete_needs_a_terminal_job_and_removes_its_folder(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _add(store, "a")
    folder = store.job_dir("a")
    (folder / "dialogue.wav").write_bytes(b"x")
    with pytest.raises(JobError, match="only finished jobs"):
        store.delete("a", delete_files=True)
    store.change_state("a", JobState.CANCELLED)
    store.delete("a", delete_files=True)
    assert not folder.exists()
    with pytest.raises(JobError) as caught:
        store.get("a")
    assert caught.value.code == "unknown_job"


def test_retention_prunes_old_and_surplus_finished_jobs(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for job_id in ("old", "mid", "new", "queued"):
        _add(store, job_id)
        store.job_dir(job_id)
    for job_id in ("old", "mid", "new"):
        store.change_state(job_id, JobState.CANCELLED)
    later = time.time() + 2 * 86400
    assert store.prune(Retention(max_age_days=30, max_jobs=10), clock=later) == []
    assert sorted(store.prune(Retention(max_age_days=30, max_jobs=1), clock=later)) == [
        "mid",
        "old",
    ]
    assert not (tmp_path / "jobs" / "old").exists()
    assert store.prune(Retention(max_age_days=1, max_jobs=10), clock=later) == ["new"]
    assert [job.job_id for job in store.list_jobs()] == ["queued"]


def test_settings_persist(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.save_settings({"allow_lan": True, "models_dir": "/m"})
    store.save_settings({"allow_lan": False})
    store.close()
    assert _store(tmp_path).settings() == {"allow_lan": False, "models_dir": "/m"}


def test_retention_keeps_takes_written_outside_the_job_folder(tmp_path: Path) -> None:
    """Hosts send an ``output_dir`` beside the project: pruning removes only the job folder."""
    store = _store(tmp_path)
    _add(store, "done")
    inside = store.job_dir("done") / "checkpoint.bin"
    inside.write_bytes(b"x")
    outside = tmp_path / "project" / "xdub_takes" / "take-done.mov"
    outside.parent.mkdir(parents=True)
    outside.write_bytes(b"take")
    store.change_state("done", JobState.CANCELLED)
    assert store.prune(Retention(max_age_days=30, max_jobs=0)) == ["done"]
    assert not inside.exists() and outside.read_bytes() == b"take"

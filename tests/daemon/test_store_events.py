"""Each job's numbered event log in the store: ``seq`` 1, 2, ... over its ``job_state`` and
``progress`` events, kept across a reopen, replayed after a ``seq``, trimmed when it ends."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from support.store import add_job

from xdub.protocol.messages import JobStateEvent, ProgressEvent
from xdub.protocol.records import JobState, Progress, Stage
from xdub_daemon.store import JobStore


def _store(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "jobs.sqlite3", tmp_path / "jobs")


def _progress(step: int) -> Progress:
    return Progress(Stage.DENOISE, clip=1, num_clips=1, step=step, num_steps=3, fraction=0.1)


def test_events_are_numbered_per_job_across_a_reopen_and_replay_after_a_seq(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    add_job(store, "a")
    add_job(store, "b")
    store.change_state("a", JobState.RUNNING)
    published = [store.set_progress("a", _progress(step)) for step in (1, 2)]
    assert [event.seq for event in published] == [3, 4]
    store.close()
    store = _store(tmp_path)
    assert store.set_progress("a", _progress(3)).seq == 5
    last_seq, events = store.job_events("a", after_seq=2)
    assert last_seq == 5
    assert [(type(event), event.seq) for event in events] == [(ProgressEvent, n) for n in (3, 4, 5)]
    assert [event.progress.step for event in events if isinstance(event, ProgressEvent)] == [
        1,
        2,
        3,
    ]
    last_seq, events = store.job_events("a")
    assert [event.seq for event in events] == [1, 2, 3, 4, 5]
    first = events[0]
    assert isinstance(first, JobStateEvent)
    assert (first.state, first.previous_state) == (JobState.QUEUED, None)
    assert store.job_events("b") == (1, [JobStateEvent("b", JobState.QUEUED, seq=1)])


def test_a_finished_job_keeps_its_state_events_and_a_deleted_one_none(tmp_path: Path) -> None:
    store = _store(tmp_path)
    add_job(store, "a")
    store.change_state("a", JobState.RUNNING)
    store.set_progress("a", _progress(1))
    done = store.change_state("a", JobState.DONE, result_otio="{}")
    assert done.event_seq == 4
    last_seq, events = store.job_events("a")
    assert last_seq == 4
    assert [(event.seq, event.state) for event in events if isinstance(event, JobStateEvent)] == [
        (1, JobState.QUEUED),
        (2, JobState.RUNNING),
        (4, JobState.DONE),
    ]
    assert all(isinstance(event, JobStateEvent) for event in events)
    store.delete("a", delete_files=True)
    with closing(sqlite3.connect(tmp_path / "jobs.sqlite3")) as db:
        assert db.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)

"""``DaemonClient`` over both transports against a stand-in daemon on real sockets: watching
jobs through a daemon restart (missed changes replayed), giving up, unknown jobs, remote
daemons, and ``xdub bridge`` for Pythons without pyzmq."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xdub.errors import JobError, ProtocolError
from xdub.protocol.bridge_transport import BridgeTransport
from xdub.protocol.client import DaemonClient
from xdub.protocol.connection import ConnectionInfo, find_daemon, is_local, write_connection_file
from xdub.protocol.records import JobState
from xdub.protocol.schema import PROTOCOL_VERSION
from xdub.protocol.watch import JobUpdate, JobWatch

StartDaemon = Callable[..., Any]
"""``echo_daemon`` (tests/protocol/conftest.py): starts an ``EchoDaemon``."""


def _poll_until(watch: JobWatch, wanted: Callable[[JobUpdate], bool]) -> JobUpdate:
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        for update in watch.poll(0.1):
            if wanted(update):
                return update
    raise AssertionError("no such update within 10 s")


@pytest.mark.parametrize("protocol", ["1.1", PROTOCOL_VERSION])
def test_watch_replays_a_change_made_while_the_daemon_was_away(
    echo_daemon: StartDaemon, protocol: str
) -> None:
    """From a 1.2+ daemon the missed event itself (``job_events``), from an older one the
    job's stored state (``get``)."""
    first = echo_daemon("A", protocol_version=protocol)
    first.set_state("j1", JobState.RUNNING)
    with DaemonClient(first.connection_file, timeout_s=1.0) as client:
        watch = client.watch(["j1"], refresh_s=0.2)
        running = _poll_until(watch, lambda update: update.state is not None)
        assert (running.state, running.replayed) == (JobState.RUNNING, False)
        first.stop()
        assert watch.poll(0.1) == [] and watch.poll(0.1) == []
        assert not watch.connected and watch.last_error is not None
        assert watch.last_error.code == "daemon_not_running"
        second = echo_daemon("B", protocol_version=protocol)  # it finished while nobody listened
        second.events["j1"] = list(first.events["j1"])  # the daemon's store outlives it
        second.set_state("j1", JobState.DONE)
        done = _poll_until(watch, lambda update: update.state is not None)
        assert (done.state, done.replayed) == (JobState.DONE, True)
        assert watch.connected and watch.job_ids == frozenset()
        assert client.daemon is not None and client.daemon.xdub_version == "B"
        asked = {*first.requests_seen, *second.requests_seen}
        assert ("job_events" in asked) == (protocol == PROTOCOL_VERSION)
        assert done.seq == (None if protocol == "1.1" else 2)


def test_watch_reports_each_change_once(echo_daemon: StartDaemon) -> None:
    daemon = echo_daemon()
    with DaemonClient(daemon.connection_file, timeout_s=1.0) as client:
        watch = client.watch(["known"], refresh_s=0.05)
        updates = [update for _ in range(10) for update in watch.poll(0.05)]
        assert [update.state for update in updates] == [JobState.QUEUED]
        client.cancel("known")  # publishes job_state cancelled
        cancelled = _poll_until(watch, lambda update: update.is_terminal)
        assert cancelled.state is JobState.CANCELLED and cancelled.job is None


def test_every_event_is_reported_once_in_order_across_drops(echo_daemon: StartDaemon) -> None:
    """Real sockets: the watch subscribes after the job's first events (and ZeroMQ drops what
    is published before the subscription takes), two live events are dropped (stored, never
    published), one is published twice and the terminal one never: each ``seq`` still
    arrives once, in order, the missed ones from ``job_events``."""
    daemon = echo_daemon()
    daemon.set_state("job", JobState.QUEUED)
    daemon.set_state("job", JobState.RUNNING)  # 1-2: before anyone subscribed
    with DaemonClient(daemon.connection_file, timeout_s=2.0) as client:
        watch = client.watch(["job"], refresh_s=60.0)  # no periodic catch-up in this test
        live: list[int] = []
        watch.on_event = lambda event: live.append(getattr(event.content, "seq", 0))
        updates: list[JobUpdate] = []
        deadline = time.monotonic() + 10.0
        while not live and time.monotonic() < deadline:  # until the subscription has taken
            daemon.add_progress("job", 0.1, publish=True)
            updates += _polled_for(watch, 0.3)
        assert live, "no live event within 10 s"
        dropped = len(daemon.events["job"]) + 1
        daemon.add_progress("job", 0.4)  # these two are never published
        daemon.add_progress("job", 0.6)
        daemon.add_progress("job", 0.8, publish=True)  # its seq shows the gap
        daemon.republish("job")  # a duplicate
        daemon.add_progress("job", 0.9, publish=True)
        last = len(daemon.events["job"])
        updates += _polled(watch, lambda update: update.seq == last)
        assert [update.seq for update in updates] == list(range(1, last + 1))
        by_seq = {update.seq: update for update in updates}
        assert [by_seq[n].replayed for n in (1, 2)] == [False, False]  # the first catch-up
        assert [by_seq[n].replayed for n in (dropped, dropped + 1, dropped + 2)] == [True] * 3
        progress = by_seq[last].progress  # live, or already in the gap's replay
        assert progress is not None and progress.fraction == 0.9
        daemon.set_state("job", JobState.DONE)  # never published: the next catch-up has it
        watch.add("job")  # catch up now rather than after refresh_s
        done = _polled(watch, lambda update: update.is_terminal)
        assert [(update.seq, update.replayed, update.state) for update in done] == [
            (last + 1, True, JobState.DONE)
        ]
        assert watch.job_ids == frozenset()


def test_a_retried_job_is_watched_through_its_new_run(echo_daemon: StartDaemon) -> None:
    """A job cancelled, then retried: a watch (``wait``) started after the retry replays only
    the new run, so the old ``cancelled`` does not end it; the new run's ``done`` does."""
    daemon = echo_daemon()
    for state in (JobState.QUEUED, JobState.RUNNING, JobState.CANCELLED, JobState.QUEUED):
        daemon.set_state("job", state)
    with DaemonClient(daemon.connection_file, timeout_s=2.0) as client:
        watch = client.watch(["job"], refresh_s=0.2)
        first = _polled_for(watch, 0.5)
        assert [(update.seq, update.state) for update in first] == [(4, JobState.QUEUED)]
        daemon.set_state("job", JobState.RUNNING)
        daemon.set_state("job", JobState.DONE)
        done = _polled(watch, lambda update: update.is_terminal)
        assert [(update.seq, update.state) for update in done] == [
            (5, JobState.RUNNING),
            (6, JobState.DONE),
        ]


def _polled(watch: JobWatch, last: Callable[[JobUpdate], bool]) -> list[JobUpdate]:
    """Every update up to and including the first that ``last`` accepts (10 s at most)."""
    got: list[JobUpdate] = []
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        for update in watch.poll(0.1):
            got.append(update)
            if last(update):
                return got
    raise AssertionError(f"no such update within 10 s; got {got}")


def _polled_for(watch: JobWatch, duration_s: float) -> list[JobUpdate]:
    got: list[JobUpdate] = []
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        got += watch.poll(0.05)
    return got


def test_an_unknown_job_is_reported_and_dropped(echo_daemon: StartDaemon) -> None:
    daemon = echo_daemon()
    with DaemonClient(daemon.connection_file, timeout_s=1.0) as client:
        watch = client.watch(["nope"])
        update = _poll_until(watch, lambda update: update.error is not None)
        assert update.state is None and update.error is not None
        assert update.error.code == "unknown_job"
        assert watch.job_ids == frozenset()


def test_watch_gives_up_after_reconnect_s(tmp_path: Path) -> None:
    with DaemonClient(tmp_path / "none.json", timeout_s=0.5, reconnect_s=0.3) as client:
        watch = client.watch(["j1"])
        deadline = time.monotonic() + 5.0
        with pytest.raises(ProtocolError) as caught:
            while time.monotonic() < deadline:
                watch.poll(0.1)
        assert caught.value.code == "daemon_not_running"


def test_a_remote_daemon_is_not_judged_by_a_local_pid(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    info = ConnectionInfo.create(
        "tcp", "tcp://192.0.2.7:5555", "tcp://192.0.2.7:5556", xdub_version="0.1.0"
    )
    remote = ConnectionInfo(**{**info.to_json(), "pid": dead.pid})
    local = ConnectionInfo(**{**remote.to_json(), "request_address": "tcp://127.0.0.1:5555"})
    assert not is_local(remote) and is_local(local)
    path = write_connection_file(remote, runtime / "daemon.json")
    assert find_daemon(path) == remote  # its pid means nothing on this machine
    with DaemonClient(path, timeout_s=0.5) as client:
        assert client.is_remote
    write_connection_file(local, path)
    with pytest.raises(ProtocolError, match="has exited"):
        find_daemon(path)


def test_the_bridge_transport_speaks_the_same_protocol(echo_daemon: StartDaemon) -> None:
    daemon = echo_daemon("A")
    transport = BridgeTransport(daemon.connection_file, client_name="bridge-test")
    with DaemonClient(daemon.connection_file, timeout_s=20.0, transport=transport) as client:
        assert client.hello().xdub_version == "A"
        assert client.get("known").state is JobState.QUEUED
        with pytest.raises(JobError) as caught:  # the error reply's class, as over pyzmq
            client.get("nope")
        assert caught.value.code == "unknown_job" and caught.value.hint == "list jobs"
        watch = client.watch(["known"], refresh_s=5.0)
        assert _poll_until(watch, lambda update: update.state is not None).state is JobState.QUEUED
        assert client.cancel("known") is JobState.CANCELLED
        assert _poll_until(watch, lambda update: update.is_terminal).state is JobState.CANCELLED
    assert client.daemon is None  # closing ended the bridge


def test_the_bridge_transport_says_when_no_daemon_runs(tmp_path: Path) -> None:
    with DaemonClient(
        tmp_path / "none.json", transport=BridgeTransport(tmp_path / "none.json")
    ) as client:
        with pytest.raises(ProtocolError) as caught:
            client.hello()
    assert caught.value.code == "daemon_not_running"

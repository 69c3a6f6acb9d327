"""Hostile payloads that once froze or killed the daemon (issue 21): each is sent signed, over
the real sockets, and the daemon must refuse it precisely and keep serving everyone else."""

from __future__ import annotations

import json
import threading
import time

import pytest
import zmq

from xdub.errors import JobError
from xdub.protocol.connection import read_connection_file
from xdub.protocol.messages import ListJobs
from xdub.protocol.signing import DELIMITER, Session

LIST_BOUND_S = 2.0
"""A ``list`` answered while a hostile submit is refused; it took 20 s before the fix. Generous
for a shared 2-core machine, still ten times below the failure."""


def _deep_otio(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [10_000, 50_000])
def test_deeply_nested_otio_is_refused_fast_and_others_are_served(
    running_daemon, fast_options, depth: int
) -> None:
    outcome: dict[str, object] = {}

    def hostile() -> None:
        with running_daemon.client("hostile", timeout_s=60) as client:
            started = time.monotonic()
            try:
                client.submit(_deep_otio(depth), fast_options())
            except JobError as error:
                outcome["error"] = error
            outcome["seconds"] = time.monotonic() - started

    with running_daemon.client("bystander") as bystander:
        bystander.hello()
        thread = threading.Thread(target=hostile)
        thread.start()
        started = time.monotonic()
        bystander.list_jobs()
        list_s = time.monotonic() - started
        thread.join(120)
    error = outcome.get("error")
    assert isinstance(error, JobError) and error.code == "bad_job", outcome
    assert "nested" in error.message
    assert list_s < LIST_BOUND_S
    assert float(outcome["seconds"]) < LIST_BOUND_S  # type: ignore[arg-type]
    with running_daemon.client() as client:
        assert client.hello().pid == running_daemon.pid


def test_a_lone_surrogate_in_a_header_does_not_end_the_daemon(running_daemon) -> None:
    info = read_connection_file(running_daemon.connection_file)
    session = Session(info.key_bytes)
    frames = session.serialize("list", ListJobs())
    start = frames.index(DELIMITER)
    header = json.loads(frames[start + 2])
    header["msg_id"] = "\ud800abc"
    frames[start + 2] = json.dumps(header).encode()  # the escape "\ud800" on the wire
    frames[start + 1] = session.sign(frames[start + 2 :])
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(info.request_address)
    dealer.send_multipart(frames)
    assert not dealer.poll(1000)  # refused before the header is trusted: no answer
    dealer.send_multipart(session.serialize("list", ListJobs()))
    assert dealer.poll(10_000), "the daemon stopped answering"
    dealer.close()
    context.term()
    assert running_daemon.process is not None and running_daemon.process.poll() is None
    assert "(msg_type ?): malformed" in running_daemon.log_text()

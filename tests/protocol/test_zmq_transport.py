"""ClientTransport against a stand-in daemon on real ZeroMQ sockets over 127.0.0.1 and ipc."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zmq

from xdub.errors import JobError, ProtocolError
from xdub.protocol.connection import ConnectionInfo, write_connection_file
from xdub.protocol.messages import (
    CancelJob,
    GetJob,
    GetJobReply,
    JobStateEvent,
    Settings,
    SettingsReply,
)
from xdub.protocol.records import JobState, SettingsAction
from xdub.protocol.zmq_transport import ClientTransport, bind_server_sockets

Context = zmq.Context[zmq.Socket[bytes]]
Start = Callable[..., Any]  # the echo_daemon fixture: (name, **options) -> EchoDaemon
TIMEOUT_S = 5.0  # generous for a loaded 2-core CI machine; a healthy reply takes milliseconds


def _settings(transport: ClientTransport) -> dict[str, object]:
    reply = transport.call(Settings(SettingsAction.SET, {"x": 1}), timeout_s=TIMEOUT_S)
    assert isinstance(reply, SettingsReply)
    return reply.settings


def test_request_and_reply(echo_daemon: Start, client_context: Context) -> None:
    daemon = echo_daemon()
    with ClientTransport(daemon.connection_file, context=client_context) as transport:
        reply = transport.call(GetJob("known"), timeout_s=TIMEOUT_S)
        assert isinstance(reply, GetJobReply) and reply.job.job_id == "known"
        assert transport.daemon is not None and transport.daemon.pid == os.getpid()
        assert daemon.requests_seen == ["hello", "get"]


def test_an_error_reply_is_raised_as_its_exception(
    echo_daemon: Start, client_context: Context
) -> None:
    daemon = echo_daemon()
    with ClientTransport(daemon.connection_file, context=client_context) as transport:
        message = transport.request("get", GetJob("missing"), timeout_s=TIMEOUT_S)
        assert message.is_error
        with pytest.raises(JobError) as caught:
            transport.call(GetJob("missing"), timeout_s=TIMEOUT_S)
    assert caught.value.code == "unknown_job" and caught.value.hint == "list jobs"


def test_events_reach_the_subscriber(echo_daemon: Start, client_context: Context) -> None:
    daemon = echo_daemon()
    with ClientTransport(daemon.connection_file, context=client_context) as transport:
        received: list[JobStateEvent] = []
        for _ in range(20):  # a SUB misses what was published before it joined: ask again
            transport.call(CancelJob("job-9"), timeout_s=TIMEOUT_S)
            events = [message.content for message in transport.events(timeout_s=0.2)]
            received = [event for event in events if isinstance(event, JobStateEvent)]
            if received:
                break
    assert received[0].job_id == "job-9" and received[0].state is JobState.CANCELLED


def test_tcp_events_reach_only_subscribers_holding_the_connection_file(
    echo_daemon: Start, client_context: Context
) -> None:
    daemon = echo_daemon()
    assert daemon.info.event_server_key
    raw = client_context.socket(zmq.SUB)
    raw.setsockopt(zmq.LINGER, 0)
    raw.setsockopt(zmq.SUBSCRIBE, b"")
    raw.connect(daemon.info.event_address)
    with ClientTransport(daemon.connection_file, context=client_context) as transport:
        received = []
        for _ in range(20):
            transport.call(CancelJob("job-9"), timeout_s=TIMEOUT_S)
            received = list(transport.events(timeout_s=0.2))
            if received:
                break
    assert received, "the key holder got no event"
    assert not raw.poll(200), "a subscriber without the key read an event"
    raw.close()


def test_reconnects_when_the_daemon_restarts_with_new_ports_and_key(
    echo_daemon: Start, client_context: Context
) -> None:
    first = echo_daemon("A")
    with ClientTransport(first.connection_file, context=client_context) as transport:
        assert _settings(transport)["daemon"] == "A"
        first.stop()
        second = echo_daemon("B")
        assert second.info.key != first.info.key
        assert second.info.request_address != first.info.request_address
        assert _settings(transport)["daemon"] == "B"
        assert transport.daemon is not None and transport.daemon.xdub_version == "B"


def test_a_request_lost_in_a_restart_is_resent_to_the_new_daemon(
    echo_daemon: Start, client_context: Context
) -> None:
    first = echo_daemon("A", ignore=("settings",))
    with ClientTransport(first.connection_file, context=client_context) as transport:
        transport.connect(TIMEOUT_S)
        restart = threading.Timer(0.2, lambda: echo_daemon("B"))
        restart.start()
        try:
            reply = transport.call(Settings(SettingsAction.GET), timeout_s=2.5)
        finally:
            restart.join()
        assert isinstance(reply, SettingsReply) and reply.settings["daemon"] == "B"
        assert first.requests_seen == ["hello", "settings"]


def test_a_dead_pid_means_daemon_not_running(tmp_path: Path, client_context: Context) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    info = ConnectionInfo.create("tcp", "tcp://127.0.0.1:9", "tcp://127.0.0.1:10", xdub_version="x")
    dead = ConnectionInfo(**{**info.to_json(), "pid": child.pid})
    path = write_connection_file(dead, tmp_path / "d.json")
    with ClientTransport(path, context=client_context) as transport:
        with pytest.raises(ProtocolError) as caught:
            transport.call(GetJob("known"), timeout_s=TIMEOUT_S)
    assert caught.value.code == "daemon_not_running"
    assert "daemon not running" in str(caught.value)


def test_no_connection_file_means_daemon_not_running(
    tmp_path: Path, client_context: Context
) -> None:
    with ClientTransport(tmp_path / "none.json", context=client_context) as transport:
        with pytest.raises(ProtocolError) as caught:
            transport.call(GetJob("known"))
    assert caught.value.code == "daemon_not_running"


def test_a_silent_daemon_times_out(tmp_path: Path, client_context: Context) -> None:
    router = client_context.socket(zmq.ROUTER)  # bound, alive, never answers
    port = router.bind_to_random_port("tcp://127.0.0.1")
    info = ConnectionInfo.create(
        "tcp", f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port}", xdub_version="x"
    )
    path = write_connection_file(info, tmp_path / "d.json")
    try:
        with ClientTransport(path, context=client_context) as transport:
            with pytest.raises(ProtocolError) as caught:
                transport.call(GetJob("known"), timeout_s=0.3)
    finally:
        router.close(linger=0)
    assert caught.value.code == "timeout"


def test_a_client_with_the_wrong_key_gets_no_answer(
    echo_daemon: Start, client_context: Context
) -> None:
    daemon = echo_daemon()
    forged_info = ConnectionInfo(**{**daemon.info.to_json(), "key": "ab" * 32})
    path = write_connection_file(forged_info, daemon.connection_file.with_name("forged.json"))
    with ClientTransport(path, context=client_context) as transport:
        with pytest.raises(ProtocolError) as caught:
            transport.call(GetJob("known"), timeout_s=0.5)
    assert caught.value.code == "timeout"  # the daemon dropped it; no forged reply accepted
    assert daemon.requests_seen == []


@pytest.mark.parametrize("ip", ["0.0.0.0", "*", "192.168.1.20", "localhost", "::"])
def test_binding_beyond_loopback_is_refused_without_allow_lan(
    ip: str, client_context: Context
) -> None:
    with pytest.raises(ProtocolError) as caught:
        bind_server_sockets(client_context, "tcp", ip=ip)
    assert caught.value.code == "not_loopback"


def test_allow_lan_binds_all_interfaces(client_context: Context) -> None:
    router, pub, addresses = bind_server_sockets(
        client_context, "tcp", ip="0.0.0.0", allow_lan=True
    )
    router.close(linger=0)
    pub.close(linger=0)
    assert addresses.request_address.startswith("tcp://0.0.0.0:")


@pytest.mark.skipif(os.name != "posix", reason="ipc sockets are Unix sockets")
def test_ipc_transport_round_trip(
    echo_daemon: Start, client_context: Context, tmp_path: Path
) -> None:
    daemon = echo_daemon(transport="ipc", ipc_dir=tmp_path / "sock")
    assert daemon.info.request_address.startswith("ipc://")
    with ClientTransport(daemon.connection_file, context=client_context) as transport:
        assert _settings(transport)["daemon"] == "A"

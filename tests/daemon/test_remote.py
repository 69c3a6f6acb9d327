"""A daemon for remote clients (``--listen``): pairing, CURVE on both sockets, refusals.

127.0.0.1 stands for the LAN address here (through the explicit ``--listen``); the server's
connection file and the paired client's are different files, as on two machines.
"""

from __future__ import annotations

import argparse
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from support.daemon import DaemonProcess

from xdub.cli import main
from xdub.client import DaemonClient, new_job_id
from xdub.errors import ProtocolError, XdubError
from xdub.protocol.connection import ConnectionInfo, read_connection_file, write_connection_file
from xdub.protocol.messages import Hello
from xdub.protocol.schema import PROTOCOL_VERSION
from xdub.protocol.signing import Session
from xdub_daemon.__main__ import config_from_args, parse_args, parse_listen
from xdub_daemon.remote_identity import load_or_create_identity


@pytest.fixture(scope="module")
def remote_daemon(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path
) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(
        tmp_path_factory.mktemp("remote"), tiny_model, extra_args=("--listen", "127.0.0.1:0")
    )
    daemon.start(wait_models=False)
    yield daemon
    daemon.stop()


def _pair(daemon: DaemonProcess, client_dir: Path, monkeypatch, capsys) -> Path:
    """``xdub daemon pair`` beside the daemon, then ``xdub connect CODE`` on the "client"."""
    monkeypatch.setenv("XDUB_CONNECTION_FILE", str(daemon.connection_file))
    assert main(["daemon", "pair"]) == 0
    code = capsys.readouterr().out.strip().splitlines()[-1]
    client_file = client_dir / "run" / "daemon.json"
    monkeypatch.setenv("XDUB_CONNECTION_FILE", str(client_file))
    monkeypatch.setenv("XDUB_DATA_DIR", str(client_dir / "data"))
    assert main(["connect", code, "--name", "gpu-box"]) == 0
    capsys.readouterr()
    return client_file


def _raw(context: zmq.Context, kind: int, address: str) -> zmq.Socket:
    socket = context.socket(kind)
    socket.setsockopt(zmq.LINGER, 0)
    if kind == zmq.SUB:
        socket.setsockopt(zmq.SUBSCRIBE, b"")
    socket.connect(address)
    return socket


def test_a_paired_client_submits_and_lists_and_only_curve_clients_get_anything(
    remote_daemon, short_clip, fast_options, tmp_path, monkeypatch, capsys
) -> None:
    client_file = _pair(remote_daemon, tmp_path, monkeypatch, capsys)
    server = read_connection_file(remote_daemon.connection_file)
    paired = read_connection_file(client_file)
    saved = tmp_path / "data" / "connections" / "gpu-box.json"
    for path in (client_file, saved):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert server.request_server_key and server.request_server_key == paired.request_server_key
    assert (paired.key, paired.request_address) == (server.key, server.request_address)
    assert paired.python_executable == sys.executable  # Resolve's bridge runs it

    context = zmq.Context()
    keyless_sub = _raw(context, zmq.SUB, server.event_address)
    keyless_dealer = _raw(context, zmq.DEALER, server.request_address)
    time.sleep(0.5)  # joined before anything is published
    with DaemonClient(client_file, client_name="laptop", timeout_s=30.0) as client:
        assert not client.is_remote  # 127.0.0.1: the pid is checked, and it is alive
        job_id = client.submit(short_clip.otio, fast_options()).job_id
        assert job_id in [job.job_id for job in client.list_jobs(limit=100)]
        events = list(client.events(20.0, [job_id]))
    assert events, "the paired client got no event of its job"

    # A correctly signed hello (the signing key is known!) without CURVE gets no answer.
    hello = Hello(PROTOCOL_VERSION, "stranger", "")
    frames = Session(server.key_bytes).serialize(Hello.MSG_TYPE, hello)
    try:  # a DEALER whose handshakes all failed has no peer: its send would block for ever
        keyless_dealer.send_multipart(frames, zmq.NOBLOCK)
    except zmq.Again:
        pass  # not even queued: certainly not answered
    assert not keyless_dealer.poll(1500), "a request without CURVE was answered"
    assert not keyless_sub.poll(200), "an event reached a subscriber without the CURVE key"
    for socket in (keyless_sub, keyless_dealer):
        socket.close()
    context.term()


def test_a_client_with_the_wrong_server_key_is_refused_and_no_job_is_created(
    remote_daemon, short_clip, fast_options, tmp_path
) -> None:
    server = read_connection_file(remote_daemon.connection_file)
    stranger_key = zmq.curve_keypair()[0].decode("ascii")
    values = {**server.to_json(), "request_server_key": stranger_key}
    wrong = write_connection_file(ConnectionInfo.from_json(values), tmp_path / "run" / "w.json")
    job_id = new_job_id()
    started = time.monotonic()
    with DaemonClient(wrong, client_name="impostor", timeout_s=10.0) as client:
        with pytest.raises(ProtocolError) as caught:
            client.submit(short_clip.otio, fast_options(), job_id=job_id)
    # ZeroMQ's monitor reports the failed CURVE handshake: a specific error, long before the
    # request's timeout.
    assert caught.value.code == "handshake_failed" and "xdub daemon pair" in caught.value.hint
    assert time.monotonic() - started < 5.0
    with remote_daemon.client() as owner:
        assert job_id not in [job.job_id for job in owner.list_jobs(limit=1000)]
        with pytest.raises(XdubError) as missing:
            owner.get(job_id)
    assert missing.value.code == "unknown_job"


def test_the_remote_keys_persist_so_a_pairing_survives_a_restart(tmp_path) -> None:
    path = tmp_path / "data" / "remote-identity.json"
    first = load_or_create_identity(path)
    assert load_or_create_identity(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("{}")
    path.chmod(0o600)
    with pytest.raises(ProtocolError, match="damaged"):
        load_or_create_identity(path)


def test_listen_takes_an_ip_and_a_port() -> None:
    assert parse_listen("0.0.0.0:7450") == ("0.0.0.0", 7450)
    assert parse_listen("[::1]:0") == ("::1", 0)
    for bad in ("gpu-box:7450", "127.0.0.1", "127.0.0.1:65535", "127.0.0.1:x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_listen(bad)


def test_listen_on_the_network_is_the_lan_opt_in_and_loopback_stays_the_default() -> None:
    lan = config_from_args(parse_args(["--listen", "192.168.1.20:7450"]))
    assert (lan.ip, lan.port, lan.remote, lan.transport) == ("192.168.1.20", 7450, True, "tcp")
    assert lan.allow_lan and "allow_lan" in lan.pinned  # stored settings cannot undo it
    loop = config_from_args(parse_args(["--listen", "127.0.0.1:0"]))
    assert loop.remote and not loop.allow_lan
    plain = config_from_args(parse_args([]))
    assert (plain.ip, plain.remote, plain.allow_lan) == ("127.0.0.1", False, False)


def test_connect_refuses_a_bad_code_with_a_clear_error(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDUB_CONNECTION_FILE", str(tmp_path / "run" / "daemon.json"))
    monkeypatch.setenv("XDUB_DATA_DIR", str(tmp_path / "data"))
    assert main(["connect", "xdub1:bm90IGpzb24"]) != 0
    assert "bad_pairing_code" in capsys.readouterr().err
    assert not (tmp_path / "run" / "daemon.json").exists()

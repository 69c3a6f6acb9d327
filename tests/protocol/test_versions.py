"""Minor versions interoperate: a 1.0 client is served by this daemon, and this client reads what
a 1.0 daemon sends (docs/protocol.md, "Versioning")."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from support.daemon import DaemonProcess, make_clip

from xdub.protocol.connection import read_connection_file
from xdub.protocol.messages import Hello, HelloReply, ListJobs, Submit, SubmitReply
from xdub.protocol.records import DubOptions, JobInfo
from xdub.protocol.schema import Content, negotiate_version
from xdub.protocol.signing import Message, Session

OLD_VERSION = "1.0"
REPLY_TIMEOUT_MS = 20_000


def _fields_since(doc_table: Callable[[str], list[list[str]]], version: str) -> set[str]:
    """The JobInfo fields the doc marks as added in ``version``."""
    return {
        name.strip("` ")
        for names, _, since in doc_table("### Job info")
        if since == version
        for name in names.split(",")
    }


class OldClient:
    """A client that speaks protocol 1.0: its headers say 1.0, and so does its ``hello``."""

    def __init__(self, connection_file: Path) -> None:
        info = read_connection_file(connection_file)
        self.session = Session(info.key_bytes, protocol_version=OLD_VERSION)
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._dealer = self._context.socket(zmq.DEALER)
        self._dealer.setsockopt(zmq.LINGER, 0)
        self._dealer.connect(info.request_address)

    def call(self, msg_type: str, content: Content) -> tuple[Message, dict[str, Any]]:
        """The reply, and its content as the JSON on the wire."""
        self._dealer.send_multipart(self.session.serialize(msg_type, content))
        assert self._dealer.poll(REPLY_TIMEOUT_MS), f"no reply to {msg_type}"
        frames = self._dealer.recv_multipart()
        return self.session.deserialize(frames), json.loads(frames[-1])

    def close(self) -> None:
        self._dealer.close()
        self._context.term()


@pytest.fixture
def old_client(tmp_path: Path) -> Iterator[OldClient]:
    """A 1.0 client of a real daemon (without models: nothing here needs a take)."""
    daemon = DaemonProcess(tmp_path / "daemon", tmp_path / "no-models")
    daemon.start(wait_models=False)
    client = OldClient(daemon.connection_file)
    try:
        yield client
    finally:
        client.close()
        daemon.stop()


def test_a_daemon_serves_a_client_that_speaks_1_0(
    old_client: OldClient, tmp_path: Path, doc_table: Callable[[str], list[list[str]]]
) -> None:
    reply, _ = old_client.call("hello", Hello(OLD_VERSION, "old-plugin", "0.0.1"))
    assert isinstance(reply.content, HelloReply)
    assert reply.content.protocol_version == OLD_VERSION
    clip = make_clip(tmp_path, "interview", 0.2, seed=3)
    job_id = uuid.uuid4().hex
    reply, _ = old_client.call("submit", Submit(job_id, clip.otio, DubOptions(seed=1)))
    assert isinstance(reply.content, SubmitReply) and reply.content.job_id == job_id
    reply, wire = old_client.call("list", ListJobs(None, 10))
    (job,) = wire["jobs"]
    known_to_1_0 = _fields_since(doc_table, "1.0")
    assert known_to_1_0 <= set(job)
    newer = set().union(*(_fields_since(doc_table, v) for v in ("1.1", "1.2", "1.3")))
    assert set(job) - known_to_1_0 == newer  # optional: ignored by 1.0
    assert job["clip"] == clip.video.name  # the job's video clip, named as its file by the CLI
    assert JobInfo.from_json(job).job_id == job_id


def test_this_client_reads_the_jobs_of_a_1_0_daemon(
    doc_table: Callable[[str], list[list[str]]],
) -> None:
    assert negotiate_version(OLD_VERSION) == OLD_VERSION  # this side speaks the older one
    old_job = {
        "job_id": "j1",
        "name": "Scene 12",
        "state": "queued",
        "created_at": "2026-03-14T09:26:53Z",
        "updated_at": "2026-03-14T09:26:53Z",
        "options": DubOptions().to_json(),
        "progress": None,
        "error": None,
        "result_otio": None,
        "warnings": [],
    }
    assert set(old_job) == _fields_since(doc_table, "1.0")
    info = JobInfo.from_json(old_job)
    assert (info.name, info.host, info.clip) == ("Scene 12", None, None)


def test_sessions_of_either_minor_version_accept_each_other() -> None:
    key = bytes(range(32))
    old, new = Session(key, protocol_version=OLD_VERSION), Session(key)
    to_new = new.deserialize(old.serialize("list", ListJobs(None, 5)))
    assert to_new.header.version == OLD_VERSION
    to_old = old.deserialize(new.serialize("list", ListJobs(None, 5)))
    assert to_old.header.version == new.protocol_version != OLD_VERSION

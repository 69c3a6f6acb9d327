"""``DaemonClient`` without a daemon: torch-free import, clear "not running" errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xdub.client import DaemonClient, new_job_id
from xdub.errors import ProtocolError
from xdub.protocol.connection import ConnectionInfo, write_connection_file
from xdub.protocol.records import check_job_id


def test_the_client_imports_without_torch() -> None:
    code = "import sys, xdub.client; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True
    )
    modules = set(json.loads(result.stdout))
    assert "xdub.client" in modules
    assert not {"torch", "av", "opentimelineio"} & modules


def test_no_connection_file_is_daemon_not_running(tmp_path: Path) -> None:
    with DaemonClient(tmp_path / "daemon.json", timeout_s=1.0) as client:
        with pytest.raises(ProtocolError) as caught:
            client.list_jobs()
    assert caught.value.code == "daemon_not_running"
    assert caught.value.hint and "xdub daemon start" in caught.value.hint


def test_a_file_left_by_a_dead_daemon_is_daemon_not_running(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    info = ConnectionInfo.create(
        "tcp", "tcp://127.0.0.1:1", "tcp://127.0.0.1:2", xdub_version="0.1.0"
    )
    info = ConnectionInfo(**{**info.to_json(), "pid": dead.pid})
    path = write_connection_file(info, runtime / "daemon.json")
    with DaemonClient(path, timeout_s=1.0) as client:
        with pytest.raises(ProtocolError) as caught:
            client.get("some-job")
    assert caught.value.code == "daemon_not_running"
    assert str(dead.pid) in caught.value.message
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_new_job_ids_are_valid_and_distinct() -> None:
    ids = {new_job_id() for _ in range(100)}
    assert len(ids) == 100
    for job_id in ids:
        check_job_id(job_id)

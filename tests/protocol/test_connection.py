"""The connection file: 0600 from creation, atomic replacement, pid checks, the default path."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import platformdirs
import pytest

from xdub.errors import ProtocolError
from xdub.protocol import connection
from xdub.protocol.connection import (
    CONNECTION_FILE_ENV,
    ConnectionInfo,
    default_connection_path,
    find_daemon,
    is_alive,
    read_connection_file,
    remove_connection_file,
    write_connection_file,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX modes and XDG directories")


def _info(port: int = 5555, pid: int | None = None) -> ConnectionInfo:
    info = ConnectionInfo.create(
        "tcp", f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port + 1}", xdub_version="0.1.0"
    )
    return info if pid is None else ConnectionInfo(**{**info.to_json(), "pid": pid})


def _dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    info = _info()
    path = write_connection_file(info, tmp_path / "run" / "daemon.json")
    assert read_connection_file(path) == info
    assert len(info.key) == 64 and len(info.key_bytes) == 32
    assert json.loads(path.read_text())["signature_scheme"] == "hmac-sha256"


@posix_only
def test_the_file_is_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        path = write_connection_file(_info(), tmp_path / "run" / "daemon.json")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@posix_only
def test_a_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = write_connection_file(_info(), tmp_path / "daemon.json")
    path.chmod(0o644)
    with pytest.raises(ProtocolError) as caught:
        read_connection_file(path)
    assert caught.value.code == "bad_connection_file"
    assert str(path) in str(caught.value)


@posix_only
def test_a_folder_writable_by_others_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(ProtocolError) as caught:
        write_connection_file(_info(), folder / "daemon.json")
    assert caught.value.code == "bad_connection_file"


def test_rewriting_is_atomic_for_concurrent_readers(tmp_path: Path) -> None:
    infos = [_info(port) for port in range(1000, 1080, 2)]
    path = write_connection_file(infos[0], tmp_path / "daemon.json")
    seen: set[ConnectionInfo] = set()
    done = threading.Event()

    def read_until_done() -> None:
        while not done.is_set():
            seen.add(read_connection_file(path))  # raises on a torn or half-written file

    reader = threading.Thread(target=read_until_done)
    reader.start()
    try:
        for info in infos[1:]:
            write_connection_file(info, path)
    finally:
        done.set()
        reader.join()
    assert seen <= set(infos)
    assert read_connection_file(path) == infos[-1]
    assert [p.name for p in tmp_path.iterdir()] == ["daemon.json"]  # no temp files left


def test_a_missing_file_means_daemon_not_running(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError) as caught:
        find_daemon(tmp_path / "daemon.json")
    assert caught.value.code == "daemon_not_running"
    assert caught.value.hint


def test_a_dead_pid_means_daemon_not_running(tmp_path: Path) -> None:
    info = _info(pid=_dead_pid())
    path = write_connection_file(info, tmp_path / "daemon.json")
    assert not is_alive(info)
    assert is_alive(_info())
    with pytest.raises(ProtocolError) as caught:
        find_daemon(path)
    assert caught.value.code == "daemon_not_running"
    assert "daemon not running" in str(caught.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"key": ""},
        {"key": "AB" * 32},
        {"transport": "udp"},
        {"request_address": "ipc:///tmp/x"},
        {"signature_scheme": "none"},
        {"pid": 0},
        {"protocol_version": "one"},
    ],
)
def test_invalid_files_are_refused_naming_the_file(
    tmp_path: Path, changes: dict[str, object]
) -> None:
    path = write_connection_file(_info(), tmp_path / "daemon.json")
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    path.chmod(0o600)
    with pytest.raises(ProtocolError) as caught:
        read_connection_file(path)
    assert caught.value.code in ("bad_connection_file", "unsupported_version")
    assert str(path) in str(caught.value) or caught.value.code == "unsupported_version"


def test_remove_only_removes_our_own_file(tmp_path: Path) -> None:
    path = write_connection_file(_info(pid=_dead_pid()), tmp_path / "daemon.json")
    assert not remove_connection_file(path)  # another daemon's file stays
    assert path.exists()
    write_connection_file(_info(), path)
    assert remove_connection_file(path)
    assert not path.exists()
    assert not remove_connection_file(path)


def test_the_environment_variable_overrides_the_default_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONNECTION_FILE_ENV, str(tmp_path / "elsewhere.json"))
    assert default_connection_path() == tmp_path / "elsewhere.json"
    monkeypatch.delenv(CONNECTION_FILE_ENV)
    assert default_connection_path().name == "daemon.json"


def _platformdirs_runtime_dir() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return Path(platformdirs.user_runtime_dir("xdub", appauthor=False))


@posix_only
@pytest.mark.parametrize("has_xdg_runtime_dir", [True, False])
def test_the_stdlib_fallback_names_the_platformdirs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, has_xdg_runtime_dir: bool
) -> None:
    """Hosts without platformdirs must find the file where the daemon wrote it."""
    if has_xdg_runtime_dir:
        xdg = tmp_path / "xdg"
        xdg.mkdir(mode=0o700)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    else:
        monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert connection._stdlib_runtime_dir() == _platformdirs_runtime_dir()
    assert connection.runtime_dir() == _platformdirs_runtime_dir()

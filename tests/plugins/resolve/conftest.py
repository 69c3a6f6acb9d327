"""Fixtures of the Resolve plugin tests: the plugin staged as ``xdub plugins install resolve``
writes it (with its ``xdub_protocol`` copy) on ``sys.path`` as Resolve's menu scripts put it,
generated media, the plugin installed into a temporary home, and a real daemon process with
the tiny test model."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from xdub.cli.plugins.resolve_install import stage_plugin

HERE = Path(__file__).resolve().parent
STAGING = Path(tempfile.mkdtemp(prefix="xdub-resolve-plugin-"))
atexit.register(shutil.rmtree, STAGING, True)
PLUGIN_DIR = stage_plugin(STAGING / "XDub")
for folder in (PLUGIN_DIR, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from resolve_scenario import Media, make_media  # noqa: E402

START_TIMEOUT_S = 120.0
FAST_OPTIONS = {"codec": "h264", "num_steps": 1, "seed": 7}
"""One denoising step and H.264: a tiny take in seconds, through the same code as 30 steps."""


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return make_media(tmp_path_factory.mktemp("resolve-media"))


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """The plugin installed for Linux into a temporary home; returns its Fusion root."""
    from xdub.cli.plugins.resolve_install import PLUGIN_FOLDER, fusion_roots, install

    home = tmp_path / "home"
    install(home=home, platform="linux", env={})
    root = fusion_roots("linux", home, {})[0]
    settings = root / PLUGIN_FOLDER / "xdub_resolve_settings.json"
    settings.write_text(json.dumps({"options": FAST_OPTIONS}))
    return root


class DaemonProcess:
    """``python -m xdub_daemon`` over its own data, log and runtime folders (``extra_args``:
    more of its options, e.g. ``--listen``)."""

    def __init__(self, root: Path, model: Path, extra_args: tuple[str, ...] = ()) -> None:
        runtime = root / "run"
        runtime.mkdir(mode=0o700, parents=True)
        self.root = root
        self.connection_file = runtime / "daemon.json"
        self.env = {
            **os.environ,
            "XDUB_DATA_DIR": str(root / "data"),
            "XDUB_LOG_DIR": str(root / "logs"),
            "XDUB_CONNECTION_FILE": str(self.connection_file),
        }
        command = [sys.executable, "-m", "xdub_daemon", "--model", str(model), "--device", "cpu"]
        command += extra_args
        with open(root / "stderr.txt", "wb") as stderr:
            self.process = subprocess.Popen(command, env=self.env, stderr=stderr)

    def wait_ready(self) -> None:
        from xdub.client import DaemonClient
        from xdub.errors import ProtocolError

        deadline = time.monotonic() + START_TIMEOUT_S
        with DaemonClient(self.connection_file, client_name="test", timeout_s=2.0) as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, self.stderr()
                try:
                    if client.hello().models_ready:
                        return
                except ProtocolError:
                    pass
                time.sleep(0.2)
        raise AssertionError(f"the daemon did not get ready: {self.stderr()}")

    def stderr(self) -> str:
        return (self.root / "stderr.txt").read_text(errors="replace")[-3000:]

    def submitted_otio(self, job_id: str) -> str:
        """The OTIO job as the daemon stored it (read from its job store)."""
        with closing(sqlite3.connect(self.root / "data" / "jobs.sqlite3")) as db:
            row = db.execute("SELECT otio FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        assert row is not None, f"the daemon has no job {job_id}"
        return str(row[0])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture(scope="module")
def daemon(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[DaemonProcess]:
    """One real daemon with the tiny model, shared by a module's tests."""
    process = DaemonProcess(tmp_path_factory.mktemp("resolve-daemon"), tiny_model_dir)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture
def connection(daemon: DaemonProcess, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point this process (and what it starts) at the test daemon's connection file."""
    monkeypatch.setenv("XDUB_CONNECTION_FILE", str(daemon.connection_file))
    return daemon.connection_file

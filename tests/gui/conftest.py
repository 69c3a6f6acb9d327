"""GUI fixtures: Qt offscreen, a tiny model, generated clips, and a real daemon process.

``GuiDaemon`` runs ``python -m xdub_daemon`` over its own data, log and runtime folders
(environment overrides), so the tests never touch the user's daemon or settings.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before pytest-qt makes the QApplication

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest

from xdub import __version__
from xdub.client import DaemonClient
from xdub.errors import ProtocolError
from xdub.protocol.zmq_transport import ClientTransport
from xdub_gui.bridge import BridgeTiming, ClientBridge

START_TIMEOUT_S = 120.0
FAST_TIMING = BridgeTiming(poll_s=0.02, retry_s=0.2, liveness_s=0.2, connect_timeout_s=2.0)
"""Short bridge intervals so reconnects are noticed within a fraction of a second."""


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings, autostart entries and logs go to ``tmp_path``, never the user's folders."""
    monkeypatch.setenv("XDUB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDUB_LOG_DIR", str(tmp_path / "logs"))


@dataclass(frozen=True)
class Clip:
    video: Path
    audio: Path
    otio: str


def make_clip(folder: Path, name: str, duration_s: float, seed: int) -> Clip:
    """A generated talking-head clip and its dialogue, with the whole-file OTIO job."""
    from xdub.cli.jobs import whole_file_job
    from xdub.media.synthetic import (
        AudioSpec,
        SyntheticVideoSpec,
        write_synthetic_audio,
        write_synthetic_video,
    )

    spec = SyntheticVideoSpec(
        width=96, height=96, fps=Fraction(25), duration_s=duration_s, seed=seed
    )
    video, audio = folder / f"{name}.mp4", folder / f"{name}.wav"
    write_synthetic_video(video, spec)
    write_synthetic_audio(audio, spec.speech(), AudioSpec())
    return Clip(video, audio, whole_file_job(video, audio))


@pytest.fixture(scope="session")
def gui_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from xdub.model.tiny import make_tiny_folder

    return make_tiny_folder(tmp_path_factory.mktemp("gui-tiny-model")).root


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("gui-media"), "interview", 1.0, seed=1)


class GuiDaemon:
    """A daemon subprocess over ``root`` with ``model``; restartable on the same folders."""

    def __init__(self, root: Path, model: Path) -> None:
        runtime = root / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root = root
        self.model = model
        self.connection_file = runtime / "daemon.json"
        self.log_dir = root / "logs"
        self.env = {
            **os.environ,
            "XDUB_DATA_DIR": str(root / "data"),
            "XDUB_LOG_DIR": str(self.log_dir),
            "XDUB_CONNECTION_FILE": str(self.connection_file),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "xdub_daemon", "--model", str(self.model)]
        with open(self.root / "stderr.txt", "ab") as stderr:
            self.process = subprocess.Popen(
                [*command, "--device", "cpu"], env=self.env, stderr=stderr
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        with self.client(timeout_s=2.0) as client:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, self.stderr()
                try:
                    if client.hello().models_ready:
                        return
                except ProtocolError:
                    pass
                time.sleep(0.2)
        raise AssertionError(f"the daemon did not get ready: {self.stderr()}")

    def client(self, timeout_s: float = 20.0) -> DaemonClient:
        return DaemonClient(self.connection_file, client_name="gui-test", timeout_s=timeout_s)

    def bridge(self) -> ClientBridge:
        return ClientBridge(
            lambda: ClientTransport(
                self.connection_file, client_name="xdub-tray", client_version=__version__
            ),
            connection_file=self.connection_file,
            timing=FAST_TIMING,
        )

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)  # reaped, so its pid reads as dead

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def stderr(self) -> str:
        path = self.root / "stderr.txt"
        return path.read_text(errors="replace")[-3000:] if path.is_file() else ""


@pytest.fixture(scope="module")
def gui_daemon(
    tmp_path_factory: pytest.TempPathFactory, gui_tiny_model: Path
) -> Iterator[GuiDaemon]:
    """A started daemon shared by a module's tests (one that restarts it restarts it)."""
    daemon = GuiDaemon(tmp_path_factory.mktemp("gui-daemon"), gui_tiny_model)
    daemon.start()
    yield daemon
    daemon.stop()

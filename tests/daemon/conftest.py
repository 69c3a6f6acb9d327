"""Daemon fixtures: a tiny model (made once), generated media, and real daemon processes.

``DaemonProcess`` runs ``python -m xdub_daemon`` with its own data, log and runtime folders
(environment overrides), so tests never touch the user's daemon.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest

from xdub.client import DaemonClient
from xdub.errors import ProtocolError
from xdub.protocol.connection import read_connection_file
from xdub.protocol.records import Codec, JobOptions

START_TIMEOUT_S = 120.0
TEST_ENV = {"OMP_NUM_THREADS": "1"}
"""Daemons under test run torch on one thread: the tiny random-weight model's takes were seen
to differ between two 2-thread runs of the same job on a loaded machine (reproducible with one
thread), and one thread per process also keeps the shared 2-core CI machine responsive."""


@dataclass(frozen=True)
class Clip:
    video: Path
    audio: Path
    otio: str


def make_clip(folder: Path, name: str, duration_s: float, seed: int) -> Clip:
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
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from xdub.model.tiny import make_tiny_folder

    return make_tiny_folder(tmp_path_factory.mktemp("tiny-model")).root


SHORT_CLIP_S = 0.4
"""10 frames: one window. The face tracker runs YOLOX at 640x640 per frame even with the tiny
model, so clip length is what makes a tiny take slow."""
TWO_WINDOW_CLIP_S = 3.2
"""80 frames at 25 fps: two 77-frame windows (77 + 72 >= 80)."""


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """A one-window clip."""
    return make_clip(tmp_path_factory.mktemp("media-short"), "short", SHORT_CLIP_S, seed=1)


@pytest.fixture(scope="session")
def two_window_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("media-two"), "two", TWO_WINDOW_CLIP_S, seed=5)


def _fast_options(**changes: object) -> JobOptions:
    values: dict[str, object] = {"codec": Codec.H264, "num_steps": 1, "seed": 7}
    values.update(changes)
    return JobOptions(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def fast_options() -> object:
    """``fast_options(**changes)``: options that keep a tiny take to seconds (one denoising
    step, H.264, a fixed seed)."""
    return _fast_options


class DaemonProcess:
    """A daemon subprocess over ``root`` (data, logs, runtime dir) with ``model``."""

    def __init__(self, root: Path, model: Path, extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.model = model
        runtime = root / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.connection_file = runtime / "daemon.json"
        self.data_dir = root / "data"
        self.log_dir = root / "logs"
        self.env = {
            **os.environ,
            "XDUB_DATA_DIR": str(self.data_dir),
            "XDUB_LOG_DIR": str(self.log_dir),
            "XDUB_CONNECTION_FILE": str(self.connection_file),
            **TEST_ENV,
            **(extra_env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "xdub_daemon", "--model", str(self.model)]
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "stderr.txt", "ab") as stderr:
            self.process = subprocess.Popen(
                [*command, "--device", "cpu"], env=self.env, stderr=stderr
            )
        self.wait_ready()

    def client(self, name: str = "test", timeout_s: float = 20.0) -> DaemonClient:
        return DaemonClient(self.connection_file, client_name=name, timeout_s=timeout_s)

    def wait_ready(self) -> None:
        """Until the daemon answers and its worker has loaded the models."""
        deadline = time.monotonic() + START_TIMEOUT_S
        with self.client(timeout_s=2.0) as client:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.poll() is None, self.stderr()
                try:
                    if client.hello().models_ready:
                        return
                except ProtocolError:
                    pass
                time.sleep(0.2)
        raise AssertionError(f"the daemon did not get ready: {self.stderr()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill9(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(10)

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

    def log_text(self, name: str = "daemon.log") -> str:
        return (self.log_dir / name).read_text(errors="replace")

    def connection_info_pid(self) -> int:
        return read_connection_file(self.connection_file).pid


@pytest.fixture
def daemon_factory(tmp_path: Path, tiny_model: Path) -> Iterator[type[DaemonProcess]]:
    """Start daemons over ``tmp_path``; every one is stopped at the end."""
    started: list[DaemonProcess] = []

    def make(extra_env: dict[str, str] | None = None) -> DaemonProcess:
        daemon = DaemonProcess(tmp_path / "daemon", tiny_model, extra_env)
        started.append(daemon)
        return daemon

    yield make  # type: ignore[misc]
    for daemon in started:
        daemon.stop()


@pytest.fixture(scope="module")
def running_daemon(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path
) -> Iterator[DaemonProcess]:
    """One daemon shared by a module's tests."""
    daemon = DaemonProcess(tmp_path_factory.mktemp("daemon"), tiny_model)
    daemon.start()
    yield daemon
    daemon.stop()

"""A real daemon for tests: ``DaemonProcess`` runs ``python -m xdub_daemon`` over its own data,
log and runtime folders (environment overrides), so tests never touch the user's daemon; plus
generated clips and their OTIO jobs (whole file, or a frame range of it).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from xdub.client import DaemonClient
from xdub.errors import ProtocolError
from xdub.protocol.connection import read_connection_file

START_TIMEOUT_S = 120.0
WORKER_STARTED = re.compile(r"started the worker \(pid (\d+)\)")
TEST_ENV = {"OMP_NUM_THREADS": "1"}
"""Daemons under test run torch on one thread: the tiny random-weight model's takes were seen
to differ between two 2-thread runs of the same job on a loaded machine (reproducible with one
thread), and one thread per process also keeps the shared 2-core CI machine responsive."""


def child_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (every thread's), zombies included."""
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as dead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return "State:\tZ" not in status


@dataclass(frozen=True)
class Clip:
    video: Path
    audio: Path
    otio: str


def make_clip(
    folder: Path,
    name: str,
    duration_s: float,
    seed: int,
    timecode: str | None = None,
    size: tuple[int, int] = (96, 96),
) -> Clip:
    """A generated ``size`` (96x96) 25 fps talking-head clip and its dialogue, with the
    whole-file job."""
    from xdub.cli.jobs import whole_file_job
    from xdub.media.synthetic import (
        AudioSpec,
        SyntheticVideoSpec,
        write_synthetic_audio,
        write_synthetic_video,
    )

    spec = SyntheticVideoSpec(
        width=size[0],
        height=size[1],
        fps=Fraction(25),
        duration_s=duration_s,
        seed=seed,
        timecode=timecode,
    )
    video, audio = folder / f"{name}.mp4", folder / f"{name}.wav"
    write_synthetic_video(video, spec)
    write_synthetic_audio(audio, spec.speech(), AudioSpec())
    return Clip(video, audio, whole_file_job(video, audio))


def range_job(
    video: Path, audio: Path, first_frame: int, num_frames: int, available_frames: int = 0
) -> str:
    """The OTIO job dubbing file frames ``[first_frame, first_frame + num_frames)`` of
    ``video`` with ``audio`` from its start (cut to the range's length). The media reference
    says the file has ``available_frames`` (0: its real count)."""
    from opentimelineio.opentime import RationalTime, TimeRange

    from xdub.job.timeline import DialogueClip, SourceClip, build_job, job_to_json
    from xdub.media.audio import load_audio
    from xdub.media.mix import DIALOGUE_SAMPLE_RATE_HZ
    from xdub.media.probe import probe

    info = probe(video)
    fps = float(info.fps)
    num_available = available_frames or info.num_frames
    available = TimeRange(RationalTime(0, fps), RationalTime(num_available, fps))
    used = TimeRange(RationalTime(first_frame, fps), RationalTime(num_frames, fps))
    rate = DIALOGUE_SAMPLE_RATE_HZ
    num_samples = len(load_audio(audio, rate))
    used_samples = min(num_samples, int(num_frames / fps * rate))
    dialogue = DialogueClip(
        audio.resolve(),
        TimeRange(RationalTime(0, rate), RationalTime(used_samples, rate)),
        offset=RationalTime(0, fps),
        available_range=TimeRange(RationalTime(0, rate), RationalTime(num_samples, rate)),
    )
    source = SourceClip(video.resolve(), used, available_range=available)
    return job_to_json(build_job(source, [dialogue], name=video.stem, host="cli"))


class DaemonProcess:
    """A daemon subprocess over ``root`` (data, logs, runtime dir) with ``model``; restartable
    on the same folders. ``extra_args`` go to ``python -m xdub_daemon``."""

    client_name = "test"

    def __init__(
        self,
        root: Path,
        model: Path,
        extra_env: dict[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.root = root
        self.model = model
        self.extra_args = tuple(extra_args)
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

    def start(self, *, wait_models: bool = True) -> None:
        """Start it; wait until it answers and (``wait_models``) its worker loaded the models."""
        command = [sys.executable, "-m", "xdub_daemon", "--model", str(self.model)]
        command += ["--device", "cpu", *self.extra_args]
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "stderr.txt", "ab") as stderr:
            self.process = subprocess.Popen(command, env=self.env, stderr=stderr)
        self.wait_ready(wait_models=wait_models)

    def client(self, name: str | None = None, timeout_s: float = 20.0) -> DaemonClient:
        return DaemonClient(
            self.connection_file, client_name=name or self.client_name, timeout_s=timeout_s
        )

    def wait_ready(self, *, wait_models: bool = True) -> None:
        """Until the daemon answers and (``wait_models``) its worker has loaded the models."""
        deadline = time.monotonic() + START_TIMEOUT_S
        with self.client(timeout_s=2.0) as client:
            while time.monotonic() < deadline:
                assert self.process is not None and self.process.poll() is None, self.stderr()
                try:
                    if client.hello().models_ready or not wait_models:
                        return
                except ProtocolError:
                    pass
                time.sleep(0.2)
        raise AssertionError(f"the daemon did not get ready: {self.stderr()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pid(self, timeout_s: float = 60.0) -> int:
        """The live worker: the child the daemon last logged starting as its worker (it has
        other spawned children: the job validator, multiprocessing's resource tracker)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            started = WORKER_STARTED.findall(self.log_text()) if self.log_path.is_file() else []
            if started and int(started[-1]) in child_pids(self.pid) and is_alive(int(started[-1])):
                return int(started[-1])
            time.sleep(0.1)
        raise AssertionError("no worker process found")

    @property
    def log_path(self) -> Path:
        return self.log_dir / "daemon.log"

    def kill9(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        assert self.process is not None
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

    def log_text(self, name: str = "daemon.log") -> str:
        return (self.log_dir / name).read_text(errors="replace")

    def connection_info_pid(self) -> int:
        return read_connection_file(self.connection_file).pid

    def submitted_otio(self, job_id: str) -> str:
        """The OTIO job as the daemon stored it (read from its job store)."""
        import sqlite3
        from contextlib import closing

        with closing(sqlite3.connect(self.data_dir / "jobs.sqlite3")) as db:
            row = db.execute("SELECT otio FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        assert row is not None, f"the daemon has no job {job_id}"
        return str(row[0])

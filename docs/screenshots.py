"""Render the tray's queue window and model manager to PNGs under ``docs/img/`` (offscreen).

Everything is real and made here: a tiny random test model, generated clips, a daemon process
dubbing them on the CPU, and the model manager downloading the tiny model from a local folder
standing in for the hub. Run: ``.venv/bin/python docs/screenshots.py`` (about a minute).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from xdub.cli.jobs import whole_file_job
from xdub.client import DaemonClient
from xdub.errors import ProtocolError
from xdub.media.synthetic import (
    AudioSpec,
    SyntheticVideoSpec,
    write_synthetic_audio,
    write_synthetic_video,
)
from xdub.protocol.records import Codec, DubOptions, JobState
from xdub.weights.sources import write_manifest
from xdub.weights.tiny import make_tiny_folder
from xdub_gui.bridge import ClientBridge
from xdub_gui.main_window import MainWindow
from xdub_gui.model_backend import ModelBackend
from xdub_gui.queue_controller import QueueController
from xdub_gui.settings import TraySettings

IMG_DIR = Path(__file__).resolve().parent / "img"
SIZE_PX = (860, 420)
TIMEOUT_S = 180.0


def spin(app: QApplication, is_done: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not is_done():
        if time.monotonic() > deadline:
            raise TimeoutError("the screenshot scene did not get ready")
        app.processEvents()
        time.sleep(0.02)


def make_job(folder: Path, name: str, duration_s: float, seed: int) -> str:
    spec = SyntheticVideoSpec(
        width=96, height=96, fps=Fraction(25), duration_s=duration_s, seed=seed
    )
    video, audio = folder / f"{name}.mp4", folder / f"{name}.wav"
    write_synthetic_video(video, spec)
    write_synthetic_audio(audio, spec.speech(), AudioSpec())
    return whole_file_job(video, audio)


def start_daemon(root: Path, model: Path) -> tuple[subprocess.Popen[bytes], Path]:
    runtime = root / "run"
    runtime.mkdir(mode=0o700, parents=True)
    connection_file = runtime / "daemon.json"
    os.environ.update(
        XDUB_DATA_DIR=str(root / "data"),
        XDUB_LOG_DIR=str(root / "logs"),
        XDUB_CONNECTION_FILE=str(connection_file),
        XDUB_CONFIG_DIR=str(root / "config"),
    )
    command = [sys.executable, "-m", "xdub_daemon", "--model", str(model), "--device", "cpu"]
    process = subprocess.Popen(command)
    deadline = time.monotonic() + TIMEOUT_S
    with DaemonClient(connection_file, timeout_s=2.0) as client:
        while time.monotonic() < deadline:
            try:
                if client.hello().models_ready:
                    return process, connection_file
            except ProtocolError:
                time.sleep(0.2)
    raise TimeoutError("the daemon did not get ready")


def save(widget: QWidget, name: str) -> Path:
    IMG_DIR.mkdir(exist_ok=True)
    path = IMG_DIR / name
    widget.grab().save(str(path), "PNG", 9)
    return path


def main() -> int:
    app = QApplication(sys.argv[:1])
    root = Path(tempfile.mkdtemp(prefix="xdub-screens-"))
    model = make_tiny_folder(root / "hub").root
    write_manifest(model)
    process, connection_file = start_daemon(root / "daemon", model)
    try:
        bridge = ClientBridge(connection_file=connection_file)
        controller = QueueController(bridge)
        backend = ModelBackend(bridge)  # the daemon's model folder
        window = MainWindow(
            controller, backend, TraySettings(), log_file=root / "daemon" / "logs" / "daemon.log"
        )
        window.resize(*SIZE_PX)
        window.show()
        bridge.start()
        media = root / "media"
        media.mkdir()
        fast = DubOptions(codec=Codec.H264, num_steps=1, seed=7)
        slow = DubOptions(codec=Codec.PRORES_HQ, num_steps=40, seed=7)
        with DaemonClient(connection_file) as client:
            done_id = client.submit(make_job(media, "A012_C004_interview", 1.0, 1), fast).job_id
            spin(app, lambda: client.get(done_id).state is JobState.DONE)
            cancelled = client.submit(make_job(media, "A014_C002_wide", 1.0, 2), fast).job_id
            client.cancel(cancelled)
            running = client.submit(make_job(media, "A015_C001_closeup", 1.0, 3), slow).job_id
        spin(app, lambda: (done := controller.jobs.find(done_id)) is not None and done.quality)
        window.queue_view.select_job(done_id)  # the job detail: the take's quality check
        spin(app, lambda: (row := controller.jobs.find(running)) is not None and row.fraction > 0.3)
        print(save(window, "tray-queue.png"))
        window.tabs.setCurrentWidget(window.model_view)
        backend.refresh()
        spin(app, lambda: bool(window.model_view.models.rows()))
        print(save(window, "tray-models.png"))
        bridge.stop()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

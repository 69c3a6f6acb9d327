"""The extension's daemon worker (bpy-free) against a remote daemon (``--listen``).

The take of a done job is downloaded by the worker thread into the takes folder it was given
(progress as the ``downloading`` stage) before the done update names it; a cancel during the
download keeps the chunks fetched (hidden) and no take, and following the job again resumes
from them. Real ZeroMQ with CURVE on 127.0.0.1, a real daemon with tiny random weights; its
data root is not the takes folder.
"""

from __future__ import annotations

import hashlib
import importlib
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.daemon import DaemonProcess, make_clip

from xdub.client import DaemonClient
from xdub.protocol.connection import read_connection_file, write_connection_file
from xdub.protocol.records import Codec, DubOptions, JobState
from xdub.protocol.takes import read_take
from xdub.protocol.transfer_messages import MIN_CHUNK_BYTES, chunk_count

from .conftest import PACKAGE_NAME

pytestmark = pytest.mark.timeout(300)
WAIT_S = 60.0


@pytest.fixture(scope="module")
def remote_daemon(
    tmp_path_factory: pytest.TempPathFactory, blender_tiny_model: Path
) -> Iterator[DaemonProcess]:
    listen = ("--listen", "127.0.0.1:0")
    root = tmp_path_factory.mktemp("gpu-box")
    daemon = DaemonProcess(root, blender_tiny_model, extra_args=listen)
    daemon.start(wait_models=False)
    yield daemon
    daemon.stop()


@pytest.fixture
def worker_module(extension: ModuleType) -> ModuleType:
    return importlib.import_module(f"{PACKAGE_NAME}.worker")


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _updates_until(updates: queue.Queue[Any], job_id: str, state: str) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            update = updates.get(timeout=0.2)
        except queue.Empty:
            continue
        assert update.job_id == job_id
        got.append(update)
        if update.state == state:
            return got
    raise AssertionError(f"no {state!r} update for {job_id}: {got}")


def test_the_worker_downloads_a_remote_take_and_resumes_a_cancelled_download(
    remote_daemon: DaemonProcess, worker_module: ModuleType, tmp_path: Path
) -> None:
    laptop = tmp_path / "laptop"
    info = read_connection_file(remote_daemon.connection_file)
    connection = write_connection_file(info, laptop / "run" / "daemon.json")
    media = laptop / "media"
    media.mkdir(parents=True)
    clip = make_clip(media, "shot", 1.0, seed=29)
    options = DubOptions(codec=Codec.PRORES_HQ, num_steps=1, seed=3)  # several 64 KiB chunks
    with DaemonClient(connection, client_name="test", timeout_s=30.0) as client:
        job_id = client.submit(clip.otio, options).job_id
        job = client.wait(job_id, timeout_s=240.0)
    assert job.state is JobState.DONE, job.error
    daemon_side = Path(read_take(job.result_otio or "").path)
    assert daemon_side.is_relative_to(remote_daemon.root)
    chunks = chunk_count(daemon_side.stat().st_size, MIN_CHUNK_BYTES)
    assert chunks >= 3, daemon_side.stat().st_size
    takes = laptop / "project" / "xdub_takes"

    worker = worker_module.DaemonWorker(
        connection, client_version="test", chunk_bytes=MIN_CHUNK_BYTES
    )
    worker.watch(job_id, str(takes))
    worker.cancel(job_id)  # before the worker runs: the download sees it from its first chunk
    worker.start()
    try:
        stopped = _updates_until(worker.updates, job_id, "done")[-1]
        assert stopped.take_stopped and not stopped.take_path and not stopped.result_otio
        code, message, hint = stopped.error
        assert code == "bad_state" and "cancelled" in message and "Download Take" in hint
        (part, note) = sorted(takes.iterdir())  # no take: the hidden partial file and its note
        assert part.name.startswith(f".{daemon_side.name}.") and part.suffix == ".part"
        assert part.stat().st_size == MIN_CHUNK_BYTES and note.name == part.name + ".sha256"

        worker.watch(job_id, str(takes))  # Download Take
        done = _updates_until(worker.updates, job_id, "done")
    finally:
        worker.stop()
    assert not done[-1].take_stopped
    fractions = [u.fraction for u in done if u.stage == "downloading"]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(fractions) == chunks  # 0.0, then one per chunk after the one it held
    local = Path(done[-1].take_path)
    assert local.parent == takes and local.name == daemon_side.name
    assert _md5(local) == _md5(daemon_side)
    assert [path.name for path in takes.iterdir()] == [local.name]

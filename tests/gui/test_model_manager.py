"""The model manager view asking a real daemon, which owns the model folder and downloads from
a local folder standing in for the hub (a copy of the tiny model with a sha256 manifest); the
tray runs no model manager of its own. Offscreen."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from xdub.protocol.messages import ModelDownloadEvent
from xdub.protocol.records import ModelState
from xdub.weights.sources import write_manifest
from xdub_gui.model_backend import ModelBackend
from xdub_gui.model_view import ModelManagerView

from .conftest import GuiDaemon

DOWNLOAD_S = 3.0
"""The throttled download takes about this long, so a pause lands mid-way."""
TIMEOUT_MS = 60_000


@pytest.fixture
def hub_copy(tmp_path: Path, gui_tiny_model: Path) -> Path:
    source = tmp_path / "hub"
    shutil.copytree(gui_tiny_model, source)
    write_manifest(source)
    return source


def _bytes_of(folder: Path) -> int:
    return sum(item.stat().st_size for item in folder.rglob("*") if item.is_file())


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        item.relative_to(folder).as_posix(): item.read_bytes()
        for item in sorted(folder.rglob("*"))
        if item.is_file() and item.name != "sha256sums.txt"
    }


@pytest.fixture
def models_daemon(tmp_path: Path, hub_copy: Path) -> Iterator[GuiDaemon]:
    """A daemon over an empty model folder, downloading from ``hub_copy``, throttled."""
    max_bps = _bytes_of(hub_copy) / DOWNLOAD_S
    args = ["--model-source", str(hub_copy), "--model-max-bps", str(max_bps)]
    daemon = GuiDaemon(tmp_path / "daemon", tmp_path / "models", extra_args=args)
    daemon.start(wait_models=False)
    yield daemon
    daemon.stop()


def test_download_pause_resume_verify_delete(
    hub_copy: Path, models_daemon: GuiDaemon, qtbot: QtBot
) -> None:
    target = models_daemon.model
    bridge = models_daemon.bridge()
    backend = ModelBackend(bridge)
    view = ModelManagerView(backend)
    qtbot.addWidget(view)
    reports: list[ModelDownloadEvent] = []
    backend.progress.connect(reports.append)
    outcomes: list[str] = []
    backend.download_ended.connect(lambda outcome, note: outcomes.append(outcome))

    bridge.start()  # the backend lists the daemon's folder once connected
    try:
        _manage(view, backend, target, hub_copy, reports, outcomes, qtbot)
    finally:
        bridge.stop()


def _manage(
    view: ModelManagerView,
    backend: ModelBackend,
    target: Path,
    hub_copy: Path,
    reports: list[ModelDownloadEvent],
    outcomes: list[str],
    qtbot: QtBot,
) -> None:
    qtbot.waitUntil(lambda: bool(view.models.rows()), timeout=TIMEOUT_MS)
    assert view.folder_edit.text() == str(target)
    assert view.models.needs_download() and "Weights missing" in view.banner.text()
    assert not view.fix_button.isHidden()

    view.fix_button.click()
    qtbot.waitUntil(lambda: any(r.download_bytes_done for r in reports), timeout=TIMEOUT_MS)
    assert "/s" in view.total_label.text()
    view.pause_button.click()
    qtbot.waitUntil(lambda: outcomes == ["paused"], timeout=TIMEOUT_MS)
    assert not view.resume_button.isHidden() and any(target.rglob("*.incomplete"))
    paused_at = reports[-1].download_bytes_done
    assert 0 < paused_at < reports[-1].download_bytes_total

    view.resume_button.click()
    qtbot.waitUntil(lambda: outcomes == ["paused", "done"], timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not backend.is_busy, timeout=TIMEOUT_MS)
    assert reports[-1].download_bytes_done == reports[-1].download_bytes_total
    qtbot.waitUntil(view.models.is_ready, timeout=TIMEOUT_MS)  # the daemon's next listing
    assert "All weights" in view.banner.text()
    fetched, mirror = _tree(target), _tree(hub_copy)
    assert fetched and all(mirror[path] == data for path, data in fetched.items())

    victim = max(target.rglob("*.safetensors"), key=lambda item: item.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[-10:] = bytes(255 - b for b in data[-10:])
    victim.write_bytes(bytes(data))
    view.verify_button.click()
    qtbot.waitUntil(lambda: "problem" in view.message_label.text(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not backend.is_busy, timeout=TIMEOUT_MS)
    assert victim.name in view.message_label.text()

    def corrupt_rows() -> list[str]:
        return [row.name for row in view.models.rows() if row.info.state is ModelState.CORRUPT]

    qtbot.waitUntil(lambda: bool(corrupt_rows()), timeout=TIMEOUT_MS)
    corrupt = corrupt_rows()
    assert "Weights missing" in view.banner.text()

    view.table.selectRow(next(i for i, r in enumerate(view.models.rows()) if r.name == corrupt[0]))
    view.delete_button.click()

    def is_deleted() -> bool:
        deleted = view.models.find(corrupt[0])
        return deleted is not None and deleted.info.state is ModelState.MISSING

    qtbot.waitUntil(is_deleted, timeout=TIMEOUT_MS)
    assert not victim.exists()

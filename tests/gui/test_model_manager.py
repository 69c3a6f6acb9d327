"""The model manager view over the real ``ModelManager``, downloading from a local folder that
stands in for the hub (a copy of the tiny model with a sha256 manifest), offscreen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from xdub.model.sources import LocalSource, write_manifest
from xdub.protocol.records import ModelState
from xdub_gui.model_backend import ModelBackend
from xdub_gui.model_view import ModelManagerView

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


def test_download_pause_resume_verify_delete(tmp_path: Path, hub_copy: Path, qtbot: QtBot) -> None:
    target = tmp_path / "models"
    backend = ModelBackend(
        target,
        lambda: LocalSource(hub_copy, chunk_bytes=16 * 1024),
        max_bps=_bytes_of(hub_copy) / DOWNLOAD_S,
    )
    view = ModelManagerView(backend)
    qtbot.addWidget(view)
    reports: list[object] = []
    backend.progress.connect(reports.append)
    outcomes: list[str] = []
    backend.download_ended.connect(lambda outcome, note: outcomes.append(outcome))

    backend.refresh()
    qtbot.waitUntil(lambda: bool(view.models.rows()), timeout=TIMEOUT_MS)
    assert view.models.needs_download() and "Weights missing" in view.banner.text()
    assert not view.fix_button.isHidden()

    view.fix_button.click()
    qtbot.waitUntil(lambda: any(r.bytes_done > 0 for r in reports), timeout=TIMEOUT_MS)  # type: ignore[attr-defined]
    assert "/s" in view.total_label.text()
    view.pause_button.click()
    qtbot.waitUntil(lambda: outcomes == ["paused"], timeout=TIMEOUT_MS)
    assert not view.resume_button.isHidden() and any(target.rglob("*.incomplete"))
    paused_at = reports[-1].bytes_done  # type: ignore[attr-defined]
    assert 0 < paused_at < reports[-1].bytes_total  # type: ignore[attr-defined]

    view.resume_button.click()
    qtbot.waitUntil(lambda: outcomes == ["paused", "done"], timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not backend.is_busy, timeout=TIMEOUT_MS)
    assert reports[-1].bytes_done == reports[-1].bytes_total  # type: ignore[attr-defined]
    assert view.models.is_ready() and "All weights" in view.banner.text()
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
    corrupt = [row.name for row in view.models.rows() if row.info.state is ModelState.CORRUPT]
    assert corrupt and "Weights missing" in view.banner.text()

    view.table.selectRow(next(i for i, r in enumerate(view.models.rows()) if r.name == corrupt[0]))
    view.delete_button.click()
    qtbot.waitUntil(lambda: not backend.is_busy, timeout=TIMEOUT_MS)
    deleted = view.models.find(corrupt[0])
    assert deleted is not None and deleted.info.state is ModelState.MISSING
    assert not victim.exists()

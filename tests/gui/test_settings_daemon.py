"""Saving the tray's settings sets the daemon's: the VRAM policy reaches a REAL daemon."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from xdub.protocol.records import VramPolicy
from xdub_gui.main_window import MainWindow
from xdub_gui.model_backend import ModelBackend
from xdub_gui.queue_controller import QueueController
from xdub_gui.settings import TraySettings

from .conftest import GuiDaemon


def test_saving_the_vram_policy_sets_it_on_the_daemon(
    gui_daemon: GuiDaemon, qtbot: QtBot, tmp_path: Path
) -> None:
    bridge = gui_daemon.bridge()
    backend = ModelBackend(bridge)
    window = MainWindow(
        QueueController(bridge),
        backend,
        TraySettings(),
        log_file=tmp_path / "daemon.log",
        settings_path=tmp_path / "tray.json",
    )
    qtbot.addWidget(window)
    bridge.start()
    try:
        qtbot.waitUntil(lambda: bridge.is_connected, timeout=10_000)
        combo = window.settings_view.vram_combo
        combo.setCurrentIndex(combo.findData(VramPolicy.OFFLOAD))
        window.settings_view.save_button.click()
        with gui_daemon.client() as client:
            qtbot.waitUntil(
                lambda: client.settings()["vram_policy"] == VramPolicy.OFFLOAD.value,
                timeout=10_000,
            )
            client.settings({"vram_policy": VramPolicy.RESIDENT.value})
    finally:
        bridge.stop()

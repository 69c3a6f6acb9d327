"""GUI fixtures: Qt offscreen, a tiny model, generated clips, and a real daemon process.

``GuiDaemon`` is the shared ``support.daemon.DaemonProcess`` (its own data, log and runtime
folders), so the tests never touch the user's daemon or settings.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before pytest-qt makes the QApplication

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import Clip, DaemonProcess, make_clip

from xdub_gui.bridge import BridgeTiming, ClientBridge

FAST_TIMING = BridgeTiming(poll_s=0.02, retry_s=0.2, liveness_s=0.2, connect_timeout_s=2.0)
"""Short bridge intervals so reconnects are noticed within a fraction of a second."""


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings, autostart entries and logs go to ``tmp_path``, never the user's folders."""
    monkeypatch.setenv("XDUB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDUB_LOG_DIR", str(tmp_path / "logs"))


@pytest.fixture(scope="session")
def gui_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from xdub.weights.tiny import make_tiny_folder

    return make_tiny_folder(tmp_path_factory.mktemp("gui-tiny-model")).root


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("gui-media"), "interview", 1.0, seed=1)


class GuiDaemon(DaemonProcess):
    """A daemon subprocess (``support.daemon``) that also makes the tray's ``ClientBridge``."""

    client_name = "gui-test"

    def bridge(self) -> ClientBridge:
        return ClientBridge(connection_file=self.connection_file, timing=FAST_TIMING)


@pytest.fixture(scope="module")
def gui_daemon(
    tmp_path_factory: pytest.TempPathFactory, gui_tiny_model: Path
) -> Iterator[GuiDaemon]:
    """A started daemon shared by a module's tests (one that restarts it restarts it)."""
    daemon = GuiDaemon(tmp_path_factory.mktemp("gui-daemon"), gui_tiny_model)
    daemon.start()
    yield daemon
    daemon.stop()

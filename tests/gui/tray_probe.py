"""Run under an X server with a tray host: show the tray icon, use its menu, print JSON.

Used by ``test_tray_xvfb.py`` in a subprocess (the test session's QApplication is offscreen).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from xdub_gui.bridge import ClientBridge
from xdub_gui.queue_controller import QueueController
from xdub_gui.tray import Tray

TRAY_WAIT_S = 10.0


def main() -> int:
    connection_file = Path(sys.argv[1])  # no daemon there: the tray shows "stopped"
    app = QApplication(sys.argv[:1])
    deadline = time.monotonic() + TRAY_WAIT_S
    while not QSystemTrayIcon.isSystemTrayAvailable() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.1)
    result: dict[str, object] = {"tray_available": QSystemTrayIcon.isSystemTrayAvailable()}
    bridge = ClientBridge(connection_file=connection_file)
    controller = QueueController(bridge)
    starts: list[int] = []
    tray = Tray(controller, start=lambda: starts.append(1))
    window = QWidget()
    tray.open_window.connect(window.show)
    quits: list[int] = []
    tray.quit_requested.connect(lambda: quits.append(1))
    tray.show()
    for _ in range(30):
        app.processEvents()
        time.sleep(0.05)
    result["icon_visible"] = tray.icon.isVisible()
    result["tooltip"] = tray.icon.toolTip()
    result["menu"] = [action.text() for action in tray.menu.actions() if action.text()]
    result["pause_enabled"] = tray.pause_action.isEnabled()
    tray.open_action.trigger()
    tray.daemon_action.trigger()
    deadline = time.monotonic() + 5.0
    while not starts and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    tray.quit_action.trigger()
    app.processEvents()
    result.update(window_shown=window.isVisible(), starts=len(starts), quits=len(quits))
    bridge.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

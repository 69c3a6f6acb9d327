"""``xdub-tray``: the tray app's entry point (the window alone where there is no tray)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from xdub.errors import XdubError
from xdub_gui.bridge import ClientBridge
from xdub_gui.diagnostics import log_path
from xdub_gui.main_window import MainWindow
from xdub_gui.model_backend import ModelBackend
from xdub_gui.queue_controller import QueueController
from xdub_gui.settings import TraySettings, load_settings
from xdub_gui.tray import Tray

log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="xdub-tray", description="The xdub tray app.")
    parser.add_argument("--connection-file", type=Path, default=None)
    parser.add_argument("--no-tray", action="store_true", help="show the window only")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication(sys.argv[:1])
    app.setApplicationName("xdub")
    try:
        settings = load_settings()
    except XdubError as error:
        log.warning("%s; using the defaults", error.message)
        settings = TraySettings()
    bridge = ClientBridge(connection_file=args.connection_file)
    controller = QueueController(bridge)
    backend = ModelBackend(bridge)
    window = MainWindow(controller, backend, settings, log_file=log_path())
    has_tray = not args.no_tray and QSystemTrayIcon.isSystemTrayAvailable()
    tray = Tray(controller) if has_tray else None
    if tray is not None:
        app.setQuitOnLastWindowClosed(False)
        tray.open_window.connect(window.showNormal)
        tray.open_window.connect(window.raise_)
        tray.quit_requested.connect(app.quit)
        tray.start_failed.connect(window.queue_view.message_label.setText)
        tray.show()
    else:
        log.info("no system tray here: showing the window alone")
        window.show()
    bridge.start()  # the model manager lists the daemon's folder once it connects
    try:
        return app.exec()
    finally:
        bridge.stop()


if __name__ == "__main__":
    sys.exit(main())

"""``Tray``: the system-tray icon (daemon state at a glance) and its menu.

Menu: open the window, start or stop the daemon, pause the queue, quit. *Pause queue* sets the
daemon's ``queue_paused`` setting (checked: no new job starts) and shows its value after each
connect; with a daemon that lacks the setting the action stays disabled and says why. Desktop
notifications for finished and failed takes go through the tray's balloon.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from xdub.errors import XdubError
from xdub.protocol.messages import HelloReply, Settings, SettingsReply
from xdub.protocol.records import SettingsAction
from xdub.protocol.schema import Content
from xdub_gui.daemon_control import start_daemon, stop_daemon
from xdub_gui.queue_controller import QueueController
from xdub_gui.status import DaemonStatus, status_icon

log = logging.getLogger(__name__)

PAUSE_SETTING = "queue_paused"


class Tray(QObject):
    """The tray icon. ``open_window`` and ``quit_requested`` are for the app to connect;
    ``start_failed(str)`` reports a failed ``xdub daemon start``."""

    open_window = Signal()
    quit_requested = Signal()
    start_failed = Signal(str)

    def __init__(
        self,
        controller: QueueController,
        *,
        start: Callable[[], None] = start_daemon,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self._start = start
        self.icon = QSystemTrayIcon(status_icon(controller.status), self)
        self.menu = QMenu()
        self.open_action = QAction("Open xdub", self.menu)
        self.daemon_action = QAction("Start daemon", self.menu)
        self.pause_action = QAction("Pause queue", self.menu)
        self.pause_action.setCheckable(True)
        self.quit_action = QAction("Quit", self.menu)
        for action in (self.open_action, self.daemon_action, self.pause_action):
            self.menu.addAction(action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon.setContextMenu(self.menu)
        self.open_action.triggered.connect(self.open_window)
        self.quit_action.triggered.connect(self.quit_requested)
        self.daemon_action.triggered.connect(self.toggle_daemon)
        self.pause_action.triggered.connect(self.set_paused)
        self.icon.activated.connect(self._on_activated)
        controller.status_changed.connect(self._on_status)
        controller.notify.connect(self.show_message)
        controller.bridge.connected.connect(self._on_connected)
        controller.bridge.disconnected.connect(self._on_disconnected)
        self._on_status(controller.status)
        self._set_pause_support(None)

    def show(self) -> None:
        self.icon.show()

    @Slot(str, str)
    def show_message(self, title: str, text: str) -> None:
        self.icon.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 8000)

    @Slot()
    def toggle_daemon(self) -> None:
        """Stop a running daemon (shutdown) or start one (``xdub daemon start``, in the back)."""
        if self.controller.bridge.is_connected:
            stop_daemon(self.controller.bridge, on_error=self._report_error)
            return
        self.daemon_action.setEnabled(False)
        threading.Thread(target=self._start_in_background, name="xdub-start", daemon=True).start()

    def _report_error(self, error: XdubError) -> None:
        self.start_failed.emit(error.message)

    def _start_in_background(self) -> None:
        try:
            self._start()
        except XdubError as error:
            self.start_failed.emit(error.message)
        finally:
            self.daemon_action.setEnabled(True)

    @Slot(bool)
    def set_paused(self, is_paused: bool) -> None:
        request = Settings(SettingsAction.SET, {PAUSE_SETTING: is_paused})
        self.controller.bridge.request(request, self._on_settings, self._on_pause_error)

    def _on_pause_error(self, error: XdubError) -> None:
        self.pause_action.setChecked(not self.pause_action.isChecked())
        self.start_failed.emit(error.message)

    @Slot(object)
    def _on_connected(self, hello: HelloReply) -> None:
        self.daemon_action.setText("Stop daemon")
        self.controller.bridge.request(Settings(SettingsAction.GET), self._on_settings)

    @Slot(str)
    def _on_disconnected(self, reason: str) -> None:
        self.daemon_action.setText("Start daemon")
        self._set_pause_support(None)

    def _on_settings(self, reply: Content) -> None:
        if isinstance(reply, SettingsReply):
            self._set_pause_support(reply.settings.get(PAUSE_SETTING))

    def _set_pause_support(self, value: object) -> None:
        is_supported = isinstance(value, bool)
        self.pause_action.setEnabled(is_supported)
        self.pause_action.setChecked(bool(value))
        self.pause_action.setToolTip(
            "" if is_supported else "this daemon cannot pause its queue (no queue_paused setting)"
        )

    @Slot(object)
    def _on_status(self, status: DaemonStatus) -> None:
        self.icon.setIcon(status_icon(status))
        self.icon.setToolTip(status.text)

    @Slot(QSystemTrayIcon.ActivationReason)
    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is QSystemTrayIcon.ActivationReason.Trigger:
            self.open_window.emit()

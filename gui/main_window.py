"""``MainWindow``: the queue, the model manager, settings and diagnostics as tabs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMainWindow, QTabWidget, QWidget

from xdub.errors import XdubError
from xdub.protocol.messages import Settings
from xdub.protocol.records import SettingsAction
from xdub_gui.diagnostics import diagnostics_text
from xdub_gui.diagnostics_view import DiagnosticsView
from xdub_gui.model_backend import ModelBackend
from xdub_gui.model_view import ModelManagerView
from xdub_gui.queue_controller import QueueController
from xdub_gui.queue_view import QueueView
from xdub_gui.settings import TraySettings
from xdub_gui.settings_view import SettingsView
from xdub_gui.status import DaemonStatus, status_icon
from xdub_gui.takes import Opener


class MainWindow(QMainWindow):
    """The tray's window; it also works alone where the desktop has no tray."""

    def __init__(
        self,
        controller: QueueController,
        backend: ModelBackend,
        settings: TraySettings,
        *,
        log_file: Path,
        settings_path: Path | None = None,
        opener: Opener | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("xdub")
        self.controller = controller
        self.queue_view = QueueView(controller, opener)
        self.model_view = ModelManagerView(backend)
        self.settings_view = SettingsView(
            settings, settings_path=settings_path, on_saved=self._tell_settings
        )
        self.diagnostics_view = DiagnosticsView(log_file, self._report)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.queue_view, "Queue")
        self.tabs.addTab(self.model_view, "Models")
        self.tabs.addTab(self.settings_view, "Settings")
        self.tabs.addTab(self.diagnostics_view, "Diagnostics")
        self.setCentralWidget(self.tabs)
        self.resize(900, 520)
        controller.status_changed.connect(self._on_status)
        self._on_status(controller.status)

    def _on_status(self, status: DaemonStatus) -> None:
        self.setWindowIcon(status_icon(status))

    def _report(self) -> str:
        return diagnostics_text(
            hello=self.controller.bridge.hello,
            rows=self.controller.jobs.rows(),
            model_dir=str(self.model_view.backend.model_dir or "unknown (no daemon)"),
            log_file=self.diagnostics_view.log_file,
            connection_file=self.controller.bridge.connection_file,
        )

    def _set_daemon(self, values: dict[str, object]) -> None:
        if self.controller.bridge.is_connected:
            self.controller.bridge.request(
                Settings(SettingsAction.SET, dict(values)), on_error=self._on_settings_error
            )

    def _on_settings_error(self, error: XdubError) -> None:
        self.settings_view.message_label.setText(f"the daemon refused: {error.message}")

    def _tell_settings(self, settings: TraySettings) -> None:
        self._set_daemon(settings.daemon_values())

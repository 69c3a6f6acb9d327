"""``ModelBackend``: the tray's model manager, asking the daemon, which owns the model folder.

Every action is a ``models`` request through the tray's ``ClientBridge``; the daemon downloads,
verifies and deletes, publishes ``model_download`` progress and a ``model_task`` event when a
download or verify ends. Results come back as Qt signals in the GUI thread. Pause is the
daemon's ``cancel_download`` (the partial files stay, so the next download resumes); cancel
also discards them. The folder is the daemon's ``models_dir`` setting (a change applies from
its next start). Without a daemon every action reports that it must be started.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from xdub.errors import XdubError
from xdub.protocol.messages import (
    HelloReply,
    ModelDownloadEvent,
    Models,
    ModelsReply,
    ModelTaskEvent,
    Settings,
    SettingsReply,
)
from xdub.protocol.records import DownloadState, ModelAction, SettingsAction
from xdub.protocol.schema import Content
from xdub_gui.bridge import ClientBridge

log = logging.getLogger(__name__)

MODELS_DIR = "models_dir"
_OUTCOMES = {
    DownloadState.DONE: "done",
    DownloadState.FAILED: "failed",
    DownloadState.CANCELLED: "paused",
}


class ModelBackend(QObject):
    """Signals: ``listed(list[ModelInfo], list[str] optional, int | None free_bytes)``,
    ``progress(ModelDownloadEvent)``, ``download_ended(str outcome, str note)`` with outcome
    ``done|paused|cancelled|failed``, ``verified(list[str] problems)``, ``failed(str)``,
    ``busy_changed(bool)``, ``folder_changed(str)``."""

    listed = Signal(object, object, object)  # free bytes overflow a C int
    progress = Signal(object)
    download_ended = Signal(str, str)
    verified = Signal(object)
    failed = Signal(str)
    busy_changed = Signal(bool)
    folder_changed = Signal(str)

    def __init__(self, bridge: ClientBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.model_dir: Path | None = None
        """The daemon's model folder (None until a daemon has answered)."""
        self.is_busy = False
        self._is_discarding = False
        bridge.connected.connect(self._on_connected)
        bridge.event_received.connect(self._on_event)

    # -- actions ------------------------------------------------------------------------------

    def refresh(self) -> None:
        self._ask(Models(ModelAction.LIST))

    def download(self, names: Sequence[str] | None = None) -> None:
        """Fetch ``names`` (None: what the pipeline needs), resuming partial files."""
        self._is_discarding = False
        self._start(Models(ModelAction.DOWNLOAD, tuple(names or ())))

    def pause(self) -> None:
        """Stop the download within one chunk; its partial files stay for resuming."""
        self._ask(Models(ModelAction.CANCEL_DOWNLOAD))

    def cancel(self) -> None:
        """Stop the download and remove its partial files."""
        self._is_discarding = True
        self._ask(Models(ModelAction.CANCEL_DOWNLOAD, discard_partials=True))

    def verify(self, names: Sequence[str] | None = None) -> None:
        self._start(Models(ModelAction.VERIFY, tuple(names or ())))

    def delete(self, names: Sequence[str]) -> None:
        self._ask(Models(ModelAction.DELETE, tuple(names)))

    def set_folder(self, model_dir: Path) -> None:
        """Ask the daemon to use ``model_dir`` from its next start."""
        self.bridge.request(
            Settings(SettingsAction.SET, {MODELS_DIR: str(model_dir)}),
            self._on_settings,
            self._on_error,
        )

    # -- requests and replies -----------------------------------------------------------------

    def _start(self, request: Models) -> None:
        if self.is_busy:
            self.failed.emit("the daemon's model manager is busy; wait for it or pause")
            return
        self._set_busy(True)
        self.bridge.request(request, self._on_acted, self._on_start_error)

    def _ask(self, request: Models) -> None:
        on_reply = self._on_listing if request.action is ModelAction.LIST else self._on_acted
        self.bridge.request(request, on_reply, self._on_error)

    def _on_listing(self, reply: Content) -> None:
        if not isinstance(reply, ModelsReply):
            return
        infos = list(reply.models)
        optional = [info.name for info in infos if not info.is_required]
        self._set_busy(reply.running is not None)
        self.listed.emit(infos, optional, reply.free_bytes)

    def _on_acted(self, reply: Content) -> None:
        self.refresh()

    def _on_settings(self, reply: Content) -> None:
        if isinstance(reply, SettingsReply) and MODELS_DIR in reply.settings:
            self.model_dir = Path(str(reply.settings[MODELS_DIR]))
            self.folder_changed.emit(str(self.model_dir))

    def _on_error(self, error: XdubError) -> None:
        self.failed.emit(error.message + (f" ({error.hint})" if error.hint else ""))

    def _on_start_error(self, error: XdubError) -> None:
        self._set_busy(False)
        self._on_error(error)

    def _set_busy(self, is_busy: bool) -> None:
        if is_busy != self.is_busy:
            self.is_busy = is_busy
            self.busy_changed.emit(is_busy)

    # -- the daemon's side ----------------------------------------------------------------------

    @Slot(object)
    def _on_connected(self, hello: HelloReply) -> None:
        self.bridge.request(Settings(SettingsAction.GET), self._on_settings, self._on_error)
        self.refresh()

    @Slot(object)
    def _on_event(self, event: Content) -> None:
        if isinstance(event, ModelDownloadEvent):
            self.progress.emit(event)
            if event.state is DownloadState.DONE:
                self.refresh()  # the file is in place: its component's state changed
        elif isinstance(event, ModelTaskEvent):
            self._set_busy(False)
            if event.action is ModelAction.VERIFY:
                self.verified.emit(list(event.problems))
            else:
                outcome = _OUTCOMES[event.outcome]
                if outcome == "paused" and self._is_discarding:
                    outcome = "cancelled"
                self.download_ended.emit(outcome, event.note)
            self.refresh()

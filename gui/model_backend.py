"""``ModelBackend``: the model manager (``xdub.model.manager``) run off the GUI thread.

Each action runs on a background thread, one at a time; results and download progress come
back as Qt signals (queued into the GUI thread). Pause is the manager's cancel, which keeps the
``.incomplete`` files so the next download resumes; cancel also removes them. Verification
imports torch, on the worker thread, the first time it runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from xdub.errors import JobCancelled, XdubError
from xdub.protocol.records import DownloadState

if TYPE_CHECKING:
    from xdub.model.manager import ModelManager
    from xdub.model.sources import Source
    from xdub.model.transfer import DownloadProgress

log = logging.getLogger(__name__)

SourceFactory = Callable[[], "Source | None"]


class ModelBackend(QObject):
    """Signals: ``listed(list[ModelInfo], list[str] optional, int free_bytes)``,
    ``progress(DownloadProgress)``, ``download_ended(str outcome, str note)`` with outcome
    ``done|paused|cancelled|failed``, ``verified(list[str] problems)``, ``failed(str)``,
    ``busy_changed(bool)``."""

    listed = Signal(object, object, object)  # free bytes overflow a C int
    progress = Signal(object)
    download_ended = Signal(str, str)
    verified = Signal(object)
    failed = Signal(str)
    busy_changed = Signal(bool)

    def __init__(
        self,
        model_dir: Path,
        make_source: SourceFactory,
        *,
        max_bps: float | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.model_dir = Path(model_dir)
        self._make_source = make_source
        self._max_bps = max_bps
        self._manager: ModelManager | None = None
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._discard_partials = False
        self._thread: threading.Thread | None = None

    @property
    def is_busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout_s: float = 30.0) -> None:
        """Block until the running action ends (tests and shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- actions ------------------------------------------------------------------------------

    def set_folder(self, model_dir: Path) -> None:
        """Manage another folder from now on (the running action finishes on the old one)."""
        with self._lock:
            self.model_dir, self._manager = Path(model_dir), None
        self.refresh()

    def refresh(self) -> None:
        self._start(self._list)

    def download(self, names: Sequence[str] | None = None) -> None:
        """Fetch ``names`` (None: what the pipeline needs), resuming partial files."""
        self._cancel.clear()
        self._discard_partials = False
        self._start(lambda manager: self._download(manager, names))

    def pause(self) -> None:
        """Stop the download within one chunk; its partial files stay for resuming."""
        self._cancel.set()

    def cancel(self) -> None:
        """Stop the download and remove its partial files."""
        self._discard_partials = True
        self._cancel.set()

    def verify(self, names: Sequence[str] | None = None) -> None:
        self._start(lambda manager: self._verify(manager, names))

    def delete(self, names: Sequence[str]) -> None:
        self._start(lambda manager: self._delete(manager, names))

    # -- on the worker thread ------------------------------------------------------------------

    def _start(self, action: Callable[[ModelManager], None]) -> None:
        if self.is_busy:
            self.failed.emit("the model manager is busy; wait for it or pause the download")
            return
        self.busy_changed.emit(True)
        self._thread = threading.Thread(
            target=self._run, args=(action,), name="xdub-models", daemon=True
        )
        self._thread.start()

    def _run(self, action: Callable[[ModelManager], None]) -> None:
        try:
            action(self._manager_now())
        except XdubError as error:
            self.failed.emit(error.message + (f" ({error.hint})" if error.hint else ""))
        except Exception as error:  # a bug must reach the user, not kill the thread silently
            log.exception("model manager action failed")
            self.failed.emit(f"internal error: {error}")
        finally:
            self.busy_changed.emit(False)

    def _manager_now(self) -> ModelManager:
        from xdub.model.manager import ModelManager

        with self._lock:
            if self._manager is None:
                self._manager = ModelManager(
                    self.model_dir, self._make_source(), max_bps=self._max_bps
                )
            return self._manager

    def _list(self, manager: ModelManager) -> None:
        reports = manager.status()
        optional = [report.name for report in reports if not report.is_required]
        infos = [report.to_info() for report in reports]
        self.listed.emit(infos, optional, manager.disk_usage().free_bytes)

    def _download(self, manager: ModelManager, names: Sequence[str] | None) -> None:
        def on_progress(report: DownloadProgress) -> None:
            self.progress.emit(report)
            if report.state is DownloadState.DONE:
                self._list(manager)  # the file is in place: its component's state changed

        outcome, note = "done", ""
        try:
            result = manager.download(on_progress, self._cancel, names or None)
            note = result.note
        except JobCancelled:
            outcome = "cancelled" if self._discard_partials else "paused"
            if self._discard_partials:
                self._remove_partials(manager, names)
        except XdubError as error:
            outcome, note = "failed", error.message
        self._list(manager)
        self.download_ended.emit(outcome, note)

    @staticmethod
    def _remove_partials(manager: ModelManager, names: Sequence[str] | None) -> None:
        from xdub.model.sources import PARTIAL_SUFFIX

        for task in manager.plan(names or None).tasks:
            (manager.root / (task.file.path + PARTIAL_SUFFIX)).unlink(missing_ok=True)

    def _verify(self, manager: ModelManager, names: Sequence[str] | None) -> None:
        problems: list[Any] = manager.verify(names or None)
        self.verified.emit([str(problem) for problem in problems])
        self._list(manager)

    def _delete(self, manager: ModelManager, names: Sequence[str]) -> None:
        freed = manager.delete(list(names))
        log.info("deleted %s from %s (%d bytes)", ", ".join(names), manager.root, freed)
        self._list(manager)

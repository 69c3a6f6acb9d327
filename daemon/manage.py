"""The ``models`` and ``settings`` requests.

``models``: one ``ModelManager`` over the daemon's model folder, for the daemon's lifetime, with
the components of ``xdub.model.folder.COMPONENTS`` as model names. ``list`` and ``delete`` run
at once; ``download`` and ``verify`` run on one background thread (one at a time; the reply
gives the state once started) and ``cancel_download`` stops a download within one chunk,
keeping its partial files for resuming. Download progress is queued by that thread and
published by the server's loop (``pending_events``), since ZeroMQ sockets stay on one thread.

``settings``: ``models_dir``, ``model_source`` and ``allow_lan`` can be set; they are stored
and apply from the next daemon start. ``queue_paused`` is stored too but applies at once: while
it is true the daemon starts no new job. ``results_dir`` and ``keep_models_loaded`` are
read-only.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xdub.errors import JobCancelled, ModelError, ProtocolError, XdubError
from xdub.protocol.messages import (
    ModelDownloadEvent,
    Models,
    ModelsReply,
    Settings,
    SettingsReply,
)
from xdub.protocol.records import ErrorInfo, ModelAction, ModelInfo, ModelState, SettingsAction
from xdub_daemon.config import DaemonConfig
from xdub_daemon.store import JobStore

if TYPE_CHECKING:
    from xdub.model.manager import DownloadProgress, ModelManager
    from xdub.model.sources import Source

log = logging.getLogger(__name__)

HUB_SOURCE = "hub"
_PROBLEMS_LOGGED = 20


def model_source(name: str) -> Source:
    """``"hub"``: the Hugging Face repo; anything else: a local folder laid out like it."""
    from xdub.model.sources import HubSource, LocalSource

    return HubSource() if name == HUB_SOURCE else LocalSource(Path(name))


class ModelsDesk:
    """The ``models`` request over one ``ModelManager``; the worker reports whether it loaded.

    Until a download or verify has fetched the source's listing (on the background thread),
    ``list`` reports from the disk alone, so no request waits on the network. The managers
    are made at the first ``models`` request: ``xdub.model`` imports torch, which the server
    otherwise never loads (that first request waits for the import, a second or a few).
    """

    def __init__(self, model_dir: Path, source_name: str, *, max_bps: float | None = None) -> None:
        self.model_dir = model_dir
        self.source_name = source_name
        self.max_bps = max_bps
        self._managers: tuple[ModelManager, ModelManager] | None = None
        self.is_ready = False
        self._has_listing = False
        self._events: queue.SimpleQueue[ModelDownloadEvent] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._verifying: tuple[str, ...] = ()

    def loaded(self) -> None:
        self.is_ready = True

    def load_failed(self, error: ErrorInfo) -> None:
        self.is_ready = False

    @property
    def is_busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pending_events(self) -> list[ModelDownloadEvent]:
        """Download progress queued by the background thread since the last call."""
        events = []
        while not self._events.empty():
            events.append(self._events.get())
        return events

    @property
    def manager(self) -> ModelManager:
        """The manager over the source (made on first use)."""
        return self._made()[0]

    def _made(self) -> tuple[ModelManager, ModelManager]:
        """The manager over the source, and one over the disk alone."""
        if self._managers is None:
            from xdub.model.manager import ModelManager

            self._managers = (
                ModelManager(self.model_dir, model_source(self.source_name), max_bps=self.max_bps),
                ModelManager(self.model_dir),
            )
        return self._managers

    def infos(self, names: Sequence[str] = ()) -> tuple[ModelInfo, ...]:
        """The state of ``names`` (all for none)."""
        manager, disk_only = self._made()
        manager = manager if self._has_listing else disk_only
        reports = [r for r in manager.status() if not names or r.name in names]
        return tuple(
            ModelInfo(r.name, ModelState.VERIFYING, r.size_bytes, r.bytes_on_disk, str(r.path))
            if r.name in self._verifying
            else r.to_info()
            for r in reports
        )

    def handle(self, request: Models) -> ModelsReply:
        from xdub.model.folder import COMPONENTS

        names = request.names
        known = {entry.name for entry in COMPONENTS}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ProtocolError(
                f"unknown model {unknown[0]!r}; this daemon has {', '.join(sorted(known))}",
                code="bad_content",
            )
        action = request.action
        if action is ModelAction.DOWNLOAD:
            self._start("download", lambda: self._download(names))
        elif action is ModelAction.VERIFY:
            self._verifying = tuple(names) or tuple(sorted(known))
            self._start("verify", lambda: self._verify(names))
        elif action is ModelAction.CANCEL_DOWNLOAD:
            self._cancel.set()
        elif action is ModelAction.DELETE:
            freed = self.manager.delete(names)
            log.info("deleted %s (%d bytes)", ", ".join(names), freed)
        return ModelsReply(self.infos(names))

    def _start(self, what: str, work: Callable[[], None]) -> None:
        if self.is_busy:
            raise ModelError(
                f"a model {what} cannot start: another download or verify of "
                f"{self.model_dir} is running",
                code="model_busy",
                hint="wait for it, or cancel_download",
            )
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._guarded, args=(what, work), daemon=True)
        self._thread.start()

    def _guarded(self, what: str, work: Callable[[], None]) -> None:
        try:
            work()
        except JobCancelled as cancelled:
            log.info("model download cancelled: %s", cancelled)
        except XdubError as error:
            log.warning("model %s failed: [%s] %s", what, error.code, error)
        except Exception:
            log.exception("model %s failed", what)
        finally:
            self._verifying = ()

    def _download(self, names: Sequence[str]) -> None:
        self.manager.remote_files()
        self._has_listing = True

        def on_progress(progress: DownloadProgress) -> None:
            self._events.put(progress.to_event())

        result = self.manager.download(on_progress, self._cancel, names or None)
        log.info(
            "model download: %d files, %d bytes. %s",
            len(result.files_fetched),
            result.bytes_fetched,
            result.note,
        )

    def _verify(self, names: Sequence[str]) -> None:
        self.manager.remote_files()
        self._has_listing = True
        problems = self.manager.verify(names or None)
        for problem in problems[:_PROBLEMS_LOGGED]:
            log.warning("model folder %s: %s", self.model_dir, problem)
        log.info("model verify: %d problems", len(problems))


QUEUE_PAUSED = "queue_paused"
_SETTABLE = {"models_dir": str, "model_source": str, "allow_lan": bool, QUEUE_PAUSED: bool}
_LIVE = frozenset({QUEUE_PAUSED})
"""Settings that apply as soon as they are set; the others apply from the next start."""
_READ_ONLY = ("results_dir", "keep_models_loaded")


def stored_config(config: DaemonConfig, store: JobStore) -> DaemonConfig:
    """``config`` with the settings a ``settings set`` stored (they apply at start)."""
    import dataclasses

    values = store.settings()
    changes: dict[str, Any] = {}
    if isinstance(values.get("models_dir"), str):
        changes["model_dir"] = Path(values["models_dir"])
    if isinstance(values.get("model_source"), str):
        changes["model_source"] = values["model_source"]
    if isinstance(values.get("allow_lan"), bool):
        changes["allow_lan"] = values["allow_lan"]
    return dataclasses.replace(config, **changes)


class SettingsDesk:
    """``settings get|set`` over the store's settings table. ``queue_paused`` is kept in memory
    too, since the server's loop reads it every poll."""

    def __init__(self, config: DaemonConfig, store: JobStore) -> None:
        self.config = config
        self.store = store
        self.queue_paused = store.settings().get(QUEUE_PAUSED) is True

    def current(self) -> dict[str, Any]:
        stored = self.store.settings()
        return {
            "models_dir": stored.get("models_dir", str(self.config.model_dir)),
            "model_source": stored.get("model_source", self.config.model_source),
            "results_dir": str(self.config.jobs_dir),
            "keep_models_loaded": True,
            "allow_lan": stored.get("allow_lan", self.config.allow_lan),
            QUEUE_PAUSED: self.queue_paused,
        }

    def handle(self, request: Settings) -> SettingsReply:
        if request.action is SettingsAction.SET:
            for name, value in request.values.items():
                if name in _READ_ONLY:
                    raise ProtocolError(f"setting {name!r} is read-only", code="bad_content")
                kind = _SETTABLE.get(name)
                if kind is None:
                    raise XdubError(
                        f"there is no setting {name!r}; known: {', '.join(self.current())}",
                        code="unknown_setting",
                    )
                is_hub = name == "model_source" and value == HUB_SOURCE
                is_relative = isinstance(value, str) and not Path(value).is_absolute()
                if not isinstance(value, kind) or (is_relative and not is_hub):
                    wanted = "an absolute path" if kind is str else "a boolean"
                    raise ProtocolError(
                        f"setting {name!r} must be {wanted}",
                        code="bad_content",
                    )
            self.store.save_settings(dict(request.values))
            self.queue_paused = request.values.get(QUEUE_PAUSED, self.queue_paused)
            at_start = sorted(set(request.values) - _LIVE)
            if at_start:
                log.info("settings changed: %s (they apply at the next start)", at_start)
            if QUEUE_PAUSED in request.values:
                log.info("queue %s", "paused" if self.queue_paused else "resumed")
        return SettingsReply(self.current())

"""The ``models`` and ``settings`` requests.

``models``: the daemon owns the model folder (the tray and the CLI ask it): one
``ModelManager`` over it, for the daemon's lifetime, with the components of
``xdub.weights.folder.COMPONENTS`` as model names. ``list`` and ``delete`` run at once;
``download`` and ``verify`` run on one background thread (one at a time; the reply gives the
state once started) and end with a ``model_task`` event; ``cancel_download`` stops a download
within one chunk, keeping its partial files for resuming (``discard_partials``: removing them).
Events are queued by that thread and published by the server's loop (``pending_events``), since
ZeroMQ sockets stay on one thread.

``settings``: ``models_dir``, ``model_source`` and ``allow_lan`` can be set; they are stored
and apply from the next daemon start (``stored_config``). ``queue_paused`` and ``vram_policy``
are stored too but apply at once (the policy from the next job): while ``queue_paused`` is true
the daemon starts no new job. ``results_dir`` is read-only.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xdub.errors import JobCancelled, ModelError, ProtocolError, XdubError
from xdub.protocol.messages import (
    Models,
    ModelsReply,
    ModelTaskEvent,
    Settings,
    SettingsReply,
)
from xdub.protocol.records import (
    DownloadState,
    ErrorInfo,
    ModelAction,
    ModelInfo,
    ModelState,
    SettingsAction,
    VramPolicy,
)
from xdub.protocol.schema import Event
from xdub_daemon.config import DaemonConfig
from xdub_daemon.store import JobStore

if TYPE_CHECKING:
    from xdub.weights.manager import ModelManager
    from xdub.weights.sources import Source
    from xdub.weights.transfer import DownloadProgress

log = logging.getLogger(__name__)

HUB_SOURCE = "hub"
_PROBLEMS_LOGGED = 20


def model_source(name: str) -> Source:
    """``"hub"``: the Hugging Face repo; anything else: a local folder laid out like it."""
    from xdub.weights.sources import HubSource, LocalSource

    return HubSource() if name == HUB_SOURCE else LocalSource(Path(name))


class ModelsDesk:
    """The ``models`` request over one ``ModelManager``; the worker reports whether it loaded.

    Until a download or verify has fetched the source's listing (on the background thread),
    ``list`` reports from the disk alone, so no request waits on the network. The managers
    are made at the first ``models`` request; ``xdub.weights.manager`` does not import torch
    (only ``verify``'s checks do, on the background thread).
    """

    def __init__(self, model_dir: Path, source_name: str, *, max_bps: float | None = None) -> None:
        self.model_dir = model_dir
        self.source_name = source_name
        self.max_bps = max_bps
        self._managers: tuple[ModelManager, ModelManager] | None = None
        self.is_ready = False
        self._has_listing = False
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._discard_partials = False
        self._running: ModelAction | None = None
        self._verifying: tuple[str, ...] = ()

    def loaded(self) -> None:
        self.is_ready = True

    def load_failed(self, error: ErrorInfo) -> None:
        self.is_ready = False

    @property
    def is_busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pending_events(self) -> list[Event]:
        """Download progress and task ends queued by the background thread since the last
        call."""
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
            from xdub.weights.manager import ModelManager

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
            dataclasses.replace(r.to_info(), state=ModelState.VERIFYING)
            if r.name in self._verifying
            else r.to_info()
            for r in reports
        )

    def reply(self, names: Sequence[str] = ()) -> ModelsReply:
        """The state of ``names`` (all for none), the disk's free space and what runs."""
        free_bytes = self._made()[1].disk_usage().free_bytes
        running = self._running if self.is_busy else None
        return ModelsReply(self.infos(names), free_bytes=free_bytes, running=running)

    def handle(self, request: Models) -> ModelsReply:
        from xdub.weights.folder import COMPONENTS

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
            self._start(action, lambda: self._download(names))
        elif action is ModelAction.VERIFY:
            self._verifying = tuple(names) or tuple(sorted(known))
            self._start(action, lambda: self._verify(names))
        elif action is ModelAction.CANCEL_DOWNLOAD:
            self._discard_partials = request.discard_partials
            self._cancel.set()
        elif action is ModelAction.DELETE:
            freed = self.manager.delete(names)
            log.info("deleted %s (%d bytes)", ", ".join(names), freed)
        return self.reply(names)

    def _start(self, action: ModelAction, work: Callable[[], ModelTaskEvent]) -> None:
        if self.is_busy:
            raise ModelError(
                f"a model {action.value} cannot start: another download or verify of "
                f"{self.model_dir} is running",
                code="model_busy",
                hint="wait for it, or cancel_download",
            )
        self._cancel = threading.Event()
        self._discard_partials = False
        self._running = action
        self._thread = threading.Thread(target=self._guarded, args=(action, work), daemon=True)
        self._thread.start()

    def _guarded(self, action: ModelAction, work: Callable[[], ModelTaskEvent]) -> None:
        what = action.value
        try:
            ended = work()
        except JobCancelled as cancelled:
            log.info("model download cancelled: %s", cancelled)
            ended = ModelTaskEvent(action, DownloadState.CANCELLED, str(cancelled))
        except XdubError as error:
            log.warning("model %s failed: [%s] %s", what, error.code, error)
            ended = ModelTaskEvent(action, DownloadState.FAILED, error.message)
        except Exception as error:
            log.exception("model %s failed", what)
            ended = ModelTaskEvent(action, DownloadState.FAILED, f"internal error: {error}")
        finally:
            self._verifying = ()
        self._events.put(ended)

    def _download(self, names: Sequence[str]) -> ModelTaskEvent:
        self.manager.remote_files()
        self._has_listing = True

        def on_progress(progress: DownloadProgress) -> None:
            self._events.put(progress.to_event())

        try:
            result = self.manager.download(on_progress, self._cancel, names or None)
        except JobCancelled:
            if self._discard_partials:
                self._remove_partials(names)
            raise
        log.info(
            "model download: %d files, %d bytes. %s",
            len(result.files_fetched),
            result.bytes_fetched,
            result.note,
        )
        return ModelTaskEvent(ModelAction.DOWNLOAD, DownloadState.DONE, result.note)

    def _remove_partials(self, names: Sequence[str]) -> None:
        from xdub.weights.sources import PARTIAL_SUFFIX

        for task in self.manager.plan(names or None).tasks:
            (self.manager.root / (task.file.path + PARTIAL_SUFFIX)).unlink(missing_ok=True)
        log.info("model download cancelled; its partial files are removed")

    def _verify(self, names: Sequence[str]) -> ModelTaskEvent:
        self.manager.remote_files()
        self._has_listing = True
        problems = self.manager.verify(names or None)
        for problem in problems[:_PROBLEMS_LOGGED]:
            log.warning("model folder %s: %s", self.model_dir, problem)
        log.info("model verify: %d problems", len(problems))
        note = f"{len(problems)} problem(s)" if problems else "every file is intact"
        texts = tuple(str(problem) for problem in problems)
        return ModelTaskEvent(ModelAction.VERIFY, DownloadState.DONE, note, texts)


QUEUE_PAUSED = "queue_paused"
VRAM_POLICY = "vram_policy"
_SETTABLE = {
    "models_dir": str,
    "model_source": str,
    "allow_lan": bool,
    QUEUE_PAUSED: bool,
    VRAM_POLICY: str,
}
_LIVE = frozenset({QUEUE_PAUSED, VRAM_POLICY})
"""Settings that apply as soon as they are set (``vram_policy`` from the next job); the others
apply from the next start."""
_READ_ONLY = ("results_dir",)
_CONFIG_FIELDS = {
    "models_dir": "model_dir",
    "model_source": "model_source",
    "allow_lan": "allow_lan",
    VRAM_POLICY: "vram_policy",
}
"""Stored setting -> the ``DaemonConfig`` field it sets at start."""


def stored_config(config: DaemonConfig, store: JobStore) -> DaemonConfig:
    """``config`` with the settings a ``settings set`` stored, except its ``pinned`` fields."""
    import dataclasses

    convert: dict[str, Callable[[Any], Any]] = {"model_dir": Path, "vram_policy": VramPolicy}
    changes = {
        field: convert.get(field, lambda value: value)(value)
        for name, value in store.settings().items()
        if (field := _CONFIG_FIELDS.get(name)) is not None and field not in config.pinned
    }
    if changes:
        log.info("stored settings applied: %s", sorted(changes))
    return dataclasses.replace(config, **changes)


class SettingsDesk:
    """``settings get|set`` over the store's settings table. ``queue_paused`` is kept in memory
    too, since the server's loop reads it every poll."""

    def __init__(self, config: DaemonConfig, store: JobStore) -> None:
        self.config = config
        self.store = store
        self.queue_paused = store.settings().get(QUEUE_PAUSED) is True
        self.vram_policy = config.vram_policy

    def current(self) -> dict[str, Any]:
        stored = self.store.settings()
        return {
            "models_dir": stored.get("models_dir", str(self.config.model_dir)),
            "model_source": stored.get("model_source", self.config.model_source),
            "results_dir": str(self.config.jobs_dir),
            "allow_lan": stored.get("allow_lan", self.config.allow_lan),
            VRAM_POLICY: self.vram_policy.value,
            QUEUE_PAUSED: self.queue_paused,
        }

    def handle(self, request: Settings) -> SettingsReply:
        if request.action is SettingsAction.SET:
            for name, value in request.values.items():
                self._check(name, value)
            self.store.save_settings(dict(request.values))
            self.queue_paused = request.values.get(QUEUE_PAUSED, self.queue_paused)
            self.vram_policy = VramPolicy(request.values.get(VRAM_POLICY, self.vram_policy))
            at_start = sorted(set(request.values) - _LIVE)
            if at_start:
                log.info("settings changed: %s (they apply at the next start)", at_start)
            if QUEUE_PAUSED in request.values:
                log.info("queue %s", "paused" if self.queue_paused else "resumed")
        return SettingsReply(self.current())

    def _check(self, name: str, value: Any) -> None:
        if name in _READ_ONLY:
            raise ProtocolError(f"setting {name!r} is read-only", code="bad_content")
        kind = _SETTABLE.get(name)
        if kind is None:
            raise XdubError(
                f"there is no setting {name!r}; known: {', '.join(self.current())}",
                code="unknown_setting",
            )
        if name == VRAM_POLICY:
            choices = [policy.value for policy in VramPolicy]
            valid, wanted = value in choices, f"one of {', '.join(choices)}"
        elif kind is bool:
            valid, wanted = isinstance(value, bool), "a boolean"
        else:
            is_path = isinstance(value, str) and Path(value).is_absolute()
            is_hub = name == "model_source" and value == HUB_SOURCE
            valid, wanted = is_path or is_hub, "an absolute path"
        if not valid:
            raise ProtocolError(f"setting {name!r} must be {wanted}", code="bad_content")

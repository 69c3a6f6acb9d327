"""The ``models`` and ``settings`` requests.

``models``: the daemon knows one model, the X-Dub folder it was started with (``x-dub``):
``list`` reports its state and size on disk, ``verify`` checks every file against its
configs. ``download``, ``delete`` and ``cancel_download`` answer ``not_implemented`` (the model
manager's download is not written yet; see docs/daemon.md).

``settings``: ``models_dir`` and ``allow_lan`` can be set; they are stored and apply from the
next daemon start. ``results_dir`` and ``keep_models_loaded`` are read-only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from xdub.errors import ProtocolError, XdubError
from xdub.protocol.messages import Models, ModelsReply, Settings, SettingsReply
from xdub.protocol.records import (
    ErrorInfo,
    ModelAction,
    ModelInfo,
    ModelState,
    SettingsAction,
)
from xdub_daemon.config import DaemonConfig
from xdub_daemon.store import JobStore

log = logging.getLogger(__name__)

MODEL_NAME = "x-dub"


def _bytes_on_disk(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(item.stat().st_size for item in folder.rglob("*") if item.is_file())


class ModelsDesk:
    """What the daemon knows about its model folder; the worker reports whether it loaded."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.is_ready = False
        self._state = ModelState.VERIFYING if model_dir.is_dir() else ModelState.MISSING

    def loaded(self) -> None:
        self.is_ready, self._state = True, ModelState.READY

    def load_failed(self, error: ErrorInfo) -> None:
        self.is_ready = False
        missing = error.code == "model_missing" or not self.model_dir.is_dir()
        self._state = ModelState.MISSING if missing else ModelState.CORRUPT

    def info(self) -> ModelInfo:
        size = _bytes_on_disk(self.model_dir)
        return ModelInfo(MODEL_NAME, self._state, size, size, str(self.model_dir))

    def handle(self, request: Models) -> ModelsReply:
        unknown = [name for name in request.names if name != MODEL_NAME]
        if unknown:
            raise ProtocolError(
                f"unknown model {unknown[0]!r}; this daemon has {MODEL_NAME!r}",
                code="bad_content",
            )
        if request.action is ModelAction.VERIFY:
            self._verify()
        elif request.action is not ModelAction.LIST:
            raise XdubError(
                f"models {request.action.value!r} is not implemented by this daemon yet",
                code="not_implemented",
                hint=f"put the model folder at {self.model_dir} by hand (see docs/daemon.md)",
            )
        return ModelsReply((self.info(),))

    def _verify(self) -> None:
        if not self.model_dir.is_dir():
            self._state = ModelState.MISSING
            return
        from xdub.model.folder import ModelFolder  # imports torch: only when asked

        problems = ModelFolder(self.model_dir).verify()
        for problem in problems[:20]:
            log.warning("model folder %s: %s", self.model_dir, problem)
        if problems:
            self.is_ready, self._state = False, ModelState.CORRUPT
        elif self._state is not ModelState.READY:
            self._state = ModelState.VERIFYING  # files are fine; the worker is still loading


_SETTABLE = {"models_dir": str, "allow_lan": bool}
_READ_ONLY = ("results_dir", "keep_models_loaded")


def stored_config(config: DaemonConfig, store: JobStore) -> DaemonConfig:
    """``config`` with the settings a ``settings set`` stored (they apply at start)."""
    import dataclasses

    values = store.settings()
    changes: dict[str, Any] = {}
    if isinstance(values.get("models_dir"), str):
        changes["model_dir"] = Path(values["models_dir"])
    if isinstance(values.get("allow_lan"), bool):
        changes["allow_lan"] = values["allow_lan"]
    return dataclasses.replace(config, **changes)


class SettingsDesk:
    """``settings get|set`` over the store's settings table."""

    def __init__(self, config: DaemonConfig, store: JobStore) -> None:
        self.config = config
        self.store = store

    def current(self) -> dict[str, Any]:
        stored = self.store.settings()
        return {
            "models_dir": stored.get("models_dir", str(self.config.model_dir)),
            "results_dir": str(self.config.jobs_dir),
            "keep_models_loaded": True,
            "allow_lan": stored.get("allow_lan", self.config.allow_lan),
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
                is_relative = isinstance(value, str) and not Path(value).is_absolute()
                if not isinstance(value, kind) or is_relative:
                    wanted = "an absolute path" if kind is str else "a boolean"
                    raise ProtocolError(
                        f"setting {name!r} must be {wanted}",
                        code="bad_content",
                    )
            self.store.save_settings(dict(request.values))
            log.info("settings changed: %s (they apply at the next start)", sorted(request.values))
        return SettingsReply(self.current())

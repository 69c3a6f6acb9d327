"""The model manager: what a model folder lacks, fetching it resumably, verify, delete, disk use.

``ModelManager`` is the one object the CLI, the daemon and the tray drive. It plans which files
to fetch, runs a ``Transfer`` (``xdub.weights.transfer``: resumable, hashed, rate-limited), then
prepares the text context (``xdub.weights.context_prep``). Cancelling keeps the partial files, so
pause is cancel + download again. Components are the rows of ``xdub.weights.folder.COMPONENTS``.
Listing, planning, disk use and delete import neither torch nor transformers nor DiffSynth;
``verify`` (the folder's file checks) and preparing the context do.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from xdub.errors import ModelError
from xdub.protocol.records import ModelInfo, ModelState
from xdub.weights.context_prep import CONTEXT_INPUTS, prepare_context_if_possible
from xdub.weights.disk import (
    file_bytes,
    finished_bytes,
    partial_files,
    partial_path,
    prune_empty_parents,
    remove,
)
from xdub.weights.folder import (
    COMPONENTS,
    METADATA_FILE,
    Component,
    ModelFolder,
    component,
    component_of,
)
from xdub.weights.problem import Problem
from xdub.weights.sources import RemoteFile, Source
from xdub.weights.transfer import (
    PROGRESS_INTERVAL_S,
    FileTask,
    Plan,
    ProgressCallback,
    Transfer,
    hash_prefix,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownloadResult:
    """What a finished download did; ``note``: what is left to do (empty when nothing)."""

    files_fetched: tuple[str, ...]
    bytes_fetched: int
    has_prepared_context: bool
    note: str


@dataclass(frozen=True)
class ComponentReport:
    """One component's state. ``size_bytes``: its full size (source listing, else disk, else
    the table's estimate, else 0); ``bytes_on_disk`` includes partial files."""

    name: str
    state: ModelState
    size_bytes: int
    bytes_on_disk: int
    path: Path
    is_required: bool

    def to_info(self) -> ModelInfo:
        return ModelInfo(
            self.name,
            self.state,
            self.size_bytes,
            self.bytes_on_disk,
            str(self.path),
            is_required=self.is_required,
        )


@dataclass(frozen=True)
class DiskUsage:
    """Bytes per component (partial files included), partial bytes alone, free space."""

    by_component: dict[str, int]
    partial_bytes: int
    free_bytes: int

    @property
    def total_bytes(self) -> int:
        return sum(self.by_component.values())


class ModelManager:
    """Manage the model folder ``model_dir`` against ``source`` (None: disk-only status/delete).

    ``max_bps`` caps the download rate; ``progress_interval_s`` bounds how often ``on_progress``
    is called per file (the first and last report of each file always come).
    """

    def __init__(
        self,
        model_dir: Path,
        source: Source | None = None,
        *,
        max_bps: float | None = None,
        progress_interval_s: float = PROGRESS_INTERVAL_S,
    ) -> None:
        self.root = Path(model_dir)
        self.source = source
        self.max_bps = max_bps
        self.progress_interval_s = progress_interval_s
        self._listing: list[RemoteFile] | None = None
        self._corrupt: set[str] = set()
        self._busy = threading.Lock()
        self._active: str | None = None  # the component being fetched now

    # -- what there is ----------------------------------------------------------------------

    def remote_files(self) -> list[RemoteFile]:
        """The source's file list (fetched once per manager); [] without a source."""
        if self._listing is None:
            self._listing = self.source.list_files() if self.source else []
        return self._listing

    def files_of(self, name: str) -> list[RemoteFile]:
        return [file for file in self.remote_files() if component_of(file.path) == name]

    def status(self) -> list[ComponentReport]:
        """Every component: missing / partial / downloading (now) / ready / corrupt."""
        return [self._report(entry) for entry in COMPONENTS]

    def _report(self, entry: Component) -> ComponentReport:
        path = self.root / entry.path.rstrip("/")
        files = self.files_of(entry.name)
        partial_bytes = sum(file_bytes(item) for item in partial_files(self.root, entry.path))
        on_disk = finished_bytes(path)
        has_wrong_size = any(
            (self.root / file.path).is_file()
            and (self.root / file.path).stat().st_size != file.size_bytes
            for file in files
        )
        lacks_files = any(not (self.root / file.path).is_file() for file in files)
        if entry.name == self._active:
            state = ModelState.DOWNLOADING
        elif entry.name in self._corrupt or has_wrong_size:
            state = ModelState.CORRUPT
        elif partial_bytes or (path.exists() and lacks_files):
            state = ModelState.PARTIAL
        elif path.exists():
            state = ModelState.READY
        else:
            state = ModelState.MISSING
        listed = sum(file.size_bytes for file in files)
        size = listed or (on_disk if state is ModelState.READY else entry.approx_size_bytes or 0)
        return ComponentReport(
            entry.name, state, size, on_disk + partial_bytes, path, entry.is_required
        )

    def disk_usage(self) -> DiskUsage:
        """Bytes per component, partial bytes, and the free space of the folder's file system."""
        by_component = {}
        partial_bytes = 0
        for entry in COMPONENTS:
            partials = sum(file_bytes(item) for item in partial_files(self.root, entry.path))
            by_component[entry.name] = finished_bytes(self.root / entry.path.rstrip("/")) + partials
            partial_bytes += partials
        existing = next(p for p in (self.root, *self.root.parents) if p.exists())
        return DiskUsage(by_component, partial_bytes, shutil.disk_usage(existing).free)

    # -- download ---------------------------------------------------------------------------

    def default_selection(self) -> list[str]:
        """Required components, plus umt5 and its tokenizer while the text context is neither
        on disk nor in the source (they are needed once, to prepare it)."""
        names = [entry.name for entry in COMPONENTS if entry.is_required]
        has_context = ModelFolder(self.root).path("text_context").is_file()
        if not has_context and not self.files_of("text_context"):
            names += list(CONTEXT_INPUTS)
        return names

    def plan(self, only: Sequence[str] | None = None) -> Plan:
        """The files to fetch for ``only`` (default: ``default_selection()``): those absent,
        of the wrong size, or in a component ``verify`` found corrupt; plus ``xdub-model.json``
        when the source has one the folder lacks."""
        names = _checked_names(only) if only else self.default_selection()
        tasks = []
        for file in self.remote_files():
            name = component_of(file.path)
            is_metadata = file.path == METADATA_FILE
            if not is_metadata and name not in names:
                continue
            target = self.root / file.path
            is_in_place = target.is_file() and target.stat().st_size == file.size_bytes
            if is_in_place and (is_metadata or name not in self._corrupt):
                continue
            resume = file_bytes(partial_path(target))
            tasks.append(FileTask(name, file, resume if resume <= file.size_bytes else 0))
        tasks.sort(key=lambda task: task.component is not None)  # configs first
        unavailable = tuple(name for name in names if not self.files_of(name))
        return Plan(tuple(tasks), unavailable)

    def download(
        self,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        only: Sequence[str] | None = None,
        *,
        can_prepare_context: bool = True,
        context_device: str | None = None,
    ) -> DownloadResult:
        """Fetch ``plan(only)``. Raises ``JobCancelled`` when ``cancel`` is set (partial files
        are kept for resuming) and ``ModelError`` when a file fails (a digest mismatch deletes
        that partial file). Afterwards prepares the text context when umt5 arrived (see
        ``prepare_context_if_possible``)."""
        if not self._busy.acquire(blocking=False):
            raise ModelError(f"a download into {self.root} is already running", code="model_busy")
        try:
            plan = self.plan(only)
            fetched_bytes = self._fetch_all(
                plan, on_progress or (lambda progress: None), cancel or threading.Event()
            )
        finally:
            self._active = None
            self._busy.release()
        has_context, note = False, ""
        if can_prepare_context:
            has_context, note = self.prepare_context_if_possible(context_device)
        if plan.unavailable:
            note = f"{self.source_label} lacks {', '.join(plan.unavailable)}. {note}".strip()
        fetched = tuple(task.file.path for task in plan.tasks)
        return DownloadResult(fetched, fetched_bytes, has_context, note)

    def _fetch_all(self, plan: Plan, on_progress: ProgressCallback, cancel: threading.Event) -> int:
        """Fetch every file of ``plan`` in order; returns the bytes fetched."""
        if not plan.tasks:
            return 0
        assert self.source is not None  # a plan has tasks only when there is a source
        transfer = Transfer(
            self.source,
            self.root,
            plan,
            on_progress,
            cancel,
            max_bps=self.max_bps,
            progress_interval_s=self.progress_interval_s,
        )
        for task in plan.tasks:
            self._active = task.component
            transfer.fetch(task)
            if task.component:
                self._corrupt.discard(task.component)
        return transfer.meter.fetched_bytes

    @property
    def source_label(self) -> str:
        return self.source.label if self.source else "no source"

    def prepare_context_if_possible(self, device: str | None = None) -> tuple[bool, str]:
        """See ``xdub.weights.context_prep.prepare_context_if_possible`` (imports torch only
        when the context is computed)."""
        return prepare_context_if_possible(ModelFolder(self.root), device)

    # -- verify and delete ------------------------------------------------------------------

    def verify(self, names: Sequence[str] | None = None) -> list[Problem]:
        """Folder checks (keys, shapes, dtypes) and, for files the source lists, size and
        digest. Components with problems are marked corrupt so ``plan`` fetches them again."""
        selected = set(_checked_names(names) if names else [entry.name for entry in COMPONENTS])
        folder = ModelFolder(self.root)
        problems = list(folder.config_problems())
        for status in folder.status():
            name = status.component.name
            if name not in selected:
                continue
            found = list(status.problems)
            if status.is_present:
                found += self.source_problems(name)
            problems += found
            if status.is_present and found:
                self._corrupt.add(name)
            else:
                self._corrupt.discard(name)
        return problems

    def source_problems(self, name: str) -> list[Problem]:
        """Files of component ``name`` that are absent, or differ in size or digest from the
        source's listing (each present file is read whole when a digest is known)."""
        problems = []
        for file in self.files_of(name):
            path = self.root / file.path
            if not path.is_file():
                problems.append(Problem(file.path, "is missing", hint="run `xdub models download`"))
            elif path.stat().st_size != file.size_bytes:
                message = f"has {path.stat().st_size} bytes, the source lists {file.size_bytes}"
                problems.append(Problem(file.path, message, hint="run `xdub models download`"))
            elif file.digest:
                hasher = file.digest.hasher(file.size_bytes)
                hash_prefix(path, file.size_bytes, hasher)
                if hasher.hexdigest() != file.digest.hexdigest:
                    message = f"{file.digest.algorithm} does not match the source (corrupt)"
                    problems.append(Problem(file.path, message, hint="run `xdub models download`"))
        return problems

    def delete(self, names: Sequence[str] | None = None) -> int:
        """Remove components ``names`` (None: all, and ``xdub-model.json``) with their partial
        files; returns the bytes freed."""
        if not self._busy.acquire(blocking=False):
            raise ModelError(f"a download into {self.root} is running", code="model_busy")
        try:
            entries = [component(n) for n in _checked_names(names)] if names else COMPONENTS
            freed = 0
            for entry in entries:
                path = self.root / entry.path.rstrip("/")
                for item in (path, *partial_files(self.root, entry.path)):
                    freed += remove(item)
                prune_empty_parents(path.parent, self.root)
                self._corrupt.discard(entry.name)
            if names is None:
                freed += remove(self.root / METADATA_FILE)
            return freed
        finally:
            self._busy.release()


def _checked_names(names: Iterable[str]) -> list[str]:
    known = {entry.name for entry in COMPONENTS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ModelError(
            f"unknown model component(s) {unknown}; known: {sorted(known)}", code="unknown_model"
        )
    return list(names)

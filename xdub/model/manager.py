"""The model manager: what a model folder lacks, fetching it resumably, verify, delete, disk use.

Files stream from a ``Source`` into ``<file>.incomplete`` beside their target; a later download
resumes from that partial file's length (an HTTP range request for the hub, a seek for a local
folder), the digest is checked when the source knows it, and ``os.replace`` puts the file in
place. Cancelling (``cancel.set()``) stops within one chunk and keeps the partial file, so pause is
cancel + download again. Components are the rows of ``xdub.model.folder.COMPONENTS``.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xdub.errors import JobCancelled, ModelError
from xdub.model.folder import COMPONENTS, METADATA_FILE, Component, ModelFolder, component
from xdub.model.loading import Problem
from xdub.model.sources import PARTIAL_SUFFIX, RemoteFile, Source
from xdub.protocol.messages import ModelDownloadEvent
from xdub.protocol.records import DownloadState, ModelInfo, ModelState

log = logging.getLogger(__name__)

CONTEXT_INPUTS = ("umt5", "tokenizer")
"""Components needed only to prepare the text context (``xdub models prepare-context``)."""
PROGRESS_INTERVAL_S = 0.25
_SPEED_WINDOW_S = 5.0


@dataclass(frozen=True)
class FileTask:
    """One file to fetch: its component (``None`` for ``xdub-model.json``) and how many of its
    bytes a previous download already left in ``<file>.incomplete``."""

    component: str | None
    file: RemoteFile
    resume_bytes: int


@dataclass(frozen=True)
class Plan:
    """What ``download`` would fetch; ``unavailable``: selected components the source lacks."""

    tasks: tuple[FileTask, ...]
    unavailable: tuple[str, ...]

    @property
    def bytes_total(self) -> int:
        return sum(task.file.size_bytes for task in self.tasks)

    @property
    def bytes_to_fetch(self) -> int:
        return sum(task.file.size_bytes - task.resume_bytes for task in self.tasks)


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report. ``file_*``: the current file; ``bytes_*``: the whole plan (resumed
    bytes count as done); ``speed_bps`` over the last few seconds; ``eta_s`` None while unknown."""

    component: str
    file: str
    state: DownloadState
    file_bytes_done: int
    file_bytes_total: int
    bytes_done: int
    bytes_total: int
    speed_bps: float
    eta_s: float | None

    def to_event(self) -> ModelDownloadEvent:
        """The protocol's ``model_download`` event (per file, as docs/protocol.md says)."""
        return ModelDownloadEvent(
            name=self.component,
            file=self.file,
            state=self.state,
            bytes_done=self.file_bytes_done,
            bytes_total=self.file_bytes_total,
            speed_bps=self.speed_bps,
            eta_s=self.eta_s,
        )


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
        return ModelInfo(self.name, self.state, self.size_bytes, self.bytes_on_disk, str(self.path))


@dataclass(frozen=True)
class DiskUsage:
    """Bytes per component (partial files included), partial bytes alone, free space."""

    by_component: dict[str, int]
    partial_bytes: int
    free_bytes: int

    @property
    def total_bytes(self) -> int:
        return sum(self.by_component.values())


ProgressCallback = Callable[[DownloadProgress], None]


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
        partial_bytes = sum(_size(item) for item in _partials_of(self.root, entry))
        on_disk = _tree_size(path)
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
            partials = sum(_size(item) for item in _partials_of(self.root, entry))
            by_component[entry.name] = _tree_size(self.root / entry.path.rstrip("/")) + partials
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
            resume = _size(self._partial(file))
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
        cancel = cancel or threading.Event()
        if not self._busy.acquire(blocking=False):
            raise ModelError(f"a download into {self.root} is already running", code="model_busy")
        try:
            plan = self.plan(only)
            meter = _Meter(plan.bytes_total, plan.bytes_to_fetch)
            for task in plan.tasks:
                self._active = task.component
                self._fetch(task, meter, on_progress or (lambda progress: None), cancel)
                if task.component:
                    self._corrupt.discard(task.component)
        finally:
            self._active = None
            self._busy.release()
        has_context, note = False, ""
        if can_prepare_context:
            has_context, note = self.prepare_context_if_possible(context_device)
        if plan.unavailable:
            note = f"{self.source_label} lacks {', '.join(plan.unavailable)}. {note}".strip()
        fetched = tuple(task.file.path for task in plan.tasks)
        return DownloadResult(fetched, meter.fetched_bytes, has_context, note)

    @property
    def source_label(self) -> str:
        return self.source.label if self.source else "no source"

    def _partial(self, file: RemoteFile) -> Path:
        return self.root / (file.path + PARTIAL_SUFFIX)

    def _fetch(
        self, task: FileTask, meter: _Meter, on_progress: ProgressCallback, cancel: threading.Event
    ) -> None:
        assert self.source is not None  # a plan has tasks only when there is a source
        file, label = task.file, task.component or "metadata"
        target, partial = self.root / file.path, self._partial(file)
        target.parent.mkdir(parents=True, exist_ok=True)
        done = task.resume_bytes
        hasher = file.digest.hasher(file.size_bytes) if file.digest else None
        if hasher and done:
            _hash_prefix(partial, done, hasher)
        last_report = float("-inf")

        def report(state: DownloadState, *, force: bool = False) -> None:
            nonlocal last_report
            now = time.monotonic()
            if force or now - last_report >= self.progress_interval_s:
                last_report = now
                speed = meter.speed_bps(now)
                progress = DownloadProgress(
                    label,
                    file.path,
                    state,
                    done,
                    file.size_bytes,
                    meter.done_bytes,
                    meter.total_bytes,
                    speed,
                    meter.eta_s(speed),
                )
                on_progress(progress)

        report(DownloadState.DOWNLOADING, force=True)
        with open(partial, "r+b" if done else "wb") as stream:
            stream.truncate(done)
            stream.seek(done)
            chunks = self.source.read(file, done)
            try:
                for chunk in chunks if done < file.size_bytes else ():
                    if done + len(chunk) > file.size_bytes:
                        raise ModelError(f"{self.source_label}: {file.path} is longer than listed")
                    stream.write(chunk)
                    if hasher:
                        hasher.update(chunk)
                    done += len(chunk)
                    meter.add(len(chunk), time.monotonic())
                    if cancel.is_set() or self._throttle(meter, cancel):
                        report(DownloadState.CANCELLED, force=True)
                        raise JobCancelled(f"download of {file.path} cancelled at {done} bytes")
                    report(DownloadState.DOWNLOADING)
            except JobCancelled:
                raise
            except Exception:
                report(DownloadState.FAILED, force=True)
                raise
            finally:
                chunks.close()
            stream.flush()
            os.fsync(stream.fileno())
        report(DownloadState.VERIFYING, force=True)
        self._check_download(task, done, hasher, partial)
        os.replace(partial, target)
        report(DownloadState.DONE, force=True)

    def _check_download(self, task: FileTask, done: int, hasher: Any, partial: Path) -> None:
        file = task.file
        problem = None
        if done != file.size_bytes:
            problem = f"ended at {done} of {file.size_bytes} bytes"
        elif hasher is not None and file.digest is not None:
            found = hasher.hexdigest()
            if found != file.digest.hexdigest:
                problem = f"{file.digest.algorithm} {found} != {file.digest.hexdigest} (listed)"
        if problem:
            partial.unlink()
            raise ModelError(
                f"download of {file.path} from {self.source_label} {problem}; "
                "the partial file was removed",
                code="model_corrupt",
                hint="run the download again",
            )

    def _throttle(self, meter: _Meter, cancel: threading.Event) -> bool:
        """Sleep as long as ``max_bps`` asks; True when ``cancel`` was set meanwhile."""
        if not self.max_bps:
            return False
        ahead_s = meter.fetched_bytes / self.max_bps - (time.monotonic() - meter.start_s)
        return ahead_s > 0 and cancel.wait(ahead_s)

    # -- text context -----------------------------------------------------------------------

    def prepare_context_if_possible(self, device: str | None = None) -> tuple[bool, str]:
        """Compute the text context when it is missing and umt5 + tokenizer are present, on
        ``device`` or on the first of cuda / cpu with memory for umt5; returns whether it was
        written and, if not, a note saying what to run."""
        folder = ModelFolder(self.root)
        if folder.path("text_context").is_file():
            return False, ""
        command = f"xdub models prepare-context {self.root} --device DEVICE"
        if not all(folder.path(name).exists() for name in CONTEXT_INPUTS):
            return False, f"the text context is missing: get umt5 and its tokenizer, then {command}"
        device = device or choose_context_device(_tree_size(folder.path("umt5")))
        if device is None:
            return False, f"not enough memory for umt5 here; on a larger machine run {command}"
        prepare_text_context(folder, device, "fp32" if folder.metadata.is_test_weights else "bf16")
        return True, f"prepared the text context on {device}; umt5 can now be deleted"

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
                _hash_prefix(path, file.size_bytes, hasher)
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
                for item in (path, *_partials_of(self.root, entry)):
                    freed += _remove(item)
                _prune_empty_parents(path.parent, self.root)
                self._corrupt.discard(entry.name)
            if names is None:
                freed += _remove(self.root / METADATA_FILE)
            return freed
        finally:
            self._busy.release()


def component_of(path: str) -> str | None:
    """The component a folder-relative file path belongs to (None: no component)."""
    for entry in COMPONENTS:
        if path == entry.path or (entry.path.endswith("/") and path.startswith(entry.path)):
            return entry.name
    return None


def choose_context_device(umt5_bytes: int) -> str | None:
    """``cuda`` when its free memory holds umt5 with headroom, else ``cpu`` when the available
    RAM does, else None."""
    import torch

    if torch.cuda.is_available() and torch.cuda.mem_get_info()[0] >= 1.2 * umt5_bytes:
        return "cuda"
    available_bytes = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return "cpu" if available_bytes >= 1.5 * umt5_bytes else None


def prepare_text_context(folder: ModelFolder, device: str, dtype_name: str = "bf16") -> Path:
    """Encode the empty prompt with the folder's umt5 on ``device`` in ``dtype_name``
    (bf16 / fp16 / fp32) and save the cache; returns its path."""
    import torch

    from xdub.model.text_context import compute_text_context, save_text_context

    for name in CONTEXT_INPUTS:
        if not folder.path(name).exists():
            raise ModelError(
                f"{folder.path(name)} is missing; it is needed once to prepare the text context",
                code="model_missing",
                hint="download the umt5 encoder and tokenizer into the folder",
            )
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    context = compute_text_context(
        folder.path("tokenizer"),
        folder.path("umt5"),
        device,
        dtypes[dtype_name],
        config=folder.umt5_config(),
    )
    target = folder.path("text_context")
    save_text_context(context, target, encoder_file=folder.path("umt5").name)
    return target


class _Meter:
    """Bytes done over the plan and a sliding-window speed (fetched bytes only)."""

    def __init__(self, total_bytes: int, to_fetch_bytes: int) -> None:
        self.total_bytes = total_bytes
        self.done_bytes = total_bytes - to_fetch_bytes
        self.fetched_bytes = 0
        self.start_s = time.monotonic()
        self._samples: deque[tuple[float, int]] = deque([(self.start_s, 0)])

    def add(self, size_bytes: int, now_s: float) -> None:
        self.done_bytes += size_bytes
        self.fetched_bytes += size_bytes
        self._samples.append((now_s, self.fetched_bytes))
        while len(self._samples) > 2 and now_s - self._samples[1][0] > _SPEED_WINDOW_S:
            self._samples.popleft()

    def speed_bps(self, now_s: float) -> float:
        first_s, first_bytes = self._samples[0]
        elapsed_s = now_s - first_s
        return (self.fetched_bytes - first_bytes) / elapsed_s if elapsed_s > 0 else 0.0

    def eta_s(self, speed_bps: float) -> float | None:
        return (self.total_bytes - self.done_bytes) / speed_bps if speed_bps > 0 else None


def _checked_names(names: Iterable[str]) -> list[str]:
    known = {entry.name for entry in COMPONENTS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ModelError(
            f"unknown model component(s) {unknown}; known: {sorted(known)}", code="unknown_model"
        )
    return list(names)


def _partials_of(root: Path, entry: Component) -> list[Path]:
    path = root / entry.path.rstrip("/")
    if entry.path.endswith("/"):
        return sorted(path.rglob(f"*{PARTIAL_SUFFIX}")) if path.is_dir() else []
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    return [partial] if partial.is_file() else []


def _hash_prefix(path: Path, size_bytes: int, hasher: Any, chunk_bytes: int = 1 << 20) -> None:
    """Feed the first ``size_bytes`` of ``path`` into ``hasher``."""
    with open(path, "rb") as stream:
        remaining = size_bytes
        while remaining and (chunk := stream.read(min(chunk_bytes, remaining))):
            hasher.update(chunk)
            remaining -= len(chunk)


def _partials_in(path: Path) -> list[Path]:
    return list(path.rglob(f"*{PARTIAL_SUFFIX}")) if path.is_dir() else []


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _tree_size(path: Path) -> int:
    """Bytes of a file, or of every finished file under a folder (partial files excluded)."""
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(
            item.stat().st_size
            for item in path.rglob("*")
            if item.is_file() and not item.name.endswith(PARTIAL_SUFFIX)
        )
    return 0


def _remove(path: Path) -> int:
    freed = _tree_size(path) + sum(_size(item) for item in _partials_in(path))
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    return freed


def _prune_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent

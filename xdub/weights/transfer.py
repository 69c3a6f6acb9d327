"""Fetching model files: one file streamed resumably from a ``Source``, with a rate meter.

A file streams into ``<file>.incomplete`` beside its target; a later fetch resumes from that
partial file's length (the source reads from a byte offset), the digest is checked when the
source knows it, and ``os.replace`` puts the file in place. Cancelling (``cancel.set()``) stops
within one chunk and keeps the partial file.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xdub.errors import JobCancelled, ModelError
from xdub.protocol.messages import ModelDownloadEvent
from xdub.protocol.records import DownloadState
from xdub.weights.disk import partial_path
from xdub.weights.sources import RemoteFile, Source

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
    """What a download would fetch; ``unavailable``: selected components the source lacks."""

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
            download_bytes_done=self.bytes_done,
            download_bytes_total=self.bytes_total,
        )


ProgressCallback = Callable[[DownloadProgress], None]


class RateMeter:
    """Bytes done over a plan and a sliding-window speed (fetched bytes only)."""

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


class Transfer:
    """One download run of ``plan`` from ``source`` into the folder ``root``.

    ``max_bps`` caps the rate over the whole run; ``progress_interval_s`` bounds how often
    ``on_progress`` is called per file (the first and last report of each file always come).
    """

    def __init__(
        self,
        source: Source,
        root: Path,
        plan: Plan,
        on_progress: ProgressCallback,
        cancel: threading.Event,
        *,
        max_bps: float | None = None,
        progress_interval_s: float = PROGRESS_INTERVAL_S,
    ) -> None:
        self.source = source
        self.root = root
        self.on_progress = on_progress
        self.cancel = cancel
        self.max_bps = max_bps
        self.progress_interval_s = progress_interval_s
        self.meter = RateMeter(plan.bytes_total, plan.bytes_to_fetch)

    def fetch(self, task: FileTask) -> None:
        """Stream ``task``'s file into place. Raises ``JobCancelled`` when ``cancel`` is set
        (the partial file is kept) and ``ModelError`` when the file is longer, shorter or
        another digest than listed (that partial file is deleted)."""
        file, label = task.file, task.component or "metadata"
        target = self.root / file.path
        partial = partial_path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        done = task.resume_bytes
        hasher = file.digest.hasher(file.size_bytes) if file.digest else None
        if hasher and done:
            hash_prefix(partial, done, hasher)
        last_report = float("-inf")

        def report(state: DownloadState, *, force: bool = False) -> None:
            nonlocal last_report
            now = time.monotonic()
            if force or now - last_report >= self.progress_interval_s:
                last_report = now
                speed = self.meter.speed_bps(now)
                progress = DownloadProgress(
                    label,
                    file.path,
                    state,
                    done,
                    file.size_bytes,
                    self.meter.done_bytes,
                    self.meter.total_bytes,
                    speed,
                    self.meter.eta_s(speed),
                )
                self.on_progress(progress)

        report(DownloadState.DOWNLOADING, force=True)
        with open(partial, "r+b" if done else "wb") as stream:
            stream.truncate(done)
            stream.seek(done)
            chunks = self.source.read(file, done)
            try:
                for chunk in chunks if done < file.size_bytes else ():
                    if done + len(chunk) > file.size_bytes:
                        raise ModelError(f"{self.source.label}: {file.path} is longer than listed")
                    stream.write(chunk)
                    if hasher:
                        hasher.update(chunk)
                    done += len(chunk)
                    self.meter.add(len(chunk), time.monotonic())
                    if self.cancel.is_set() or self._throttle():
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
        self._check(file, done, hasher, partial)
        os.replace(partial, target)
        report(DownloadState.DONE, force=True)

    def _check(self, file: RemoteFile, done: int, hasher: Any, partial: Path) -> None:
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
                f"download of {file.path} from {self.source.label} {problem}; "
                "the partial file was removed",
                code="model_corrupt",
                hint="run the download again",
            )

    def _throttle(self) -> bool:
        """Sleep as long as ``max_bps`` asks; True when ``cancel`` was set meanwhile."""
        if not self.max_bps:
            return False
        ahead_s = self.meter.fetched_bytes / self.max_bps - (time.monotonic() - self.meter.start_s)
        return ahead_s > 0 and self.cancel.wait(ahead_s)


def hash_prefix(path: Path, size_bytes: int, hasher: Any, chunk_bytes: int = 1 << 20) -> None:
    """Feed the first ``size_bytes`` of ``path`` into ``hasher``."""
    with open(path, "rb") as stream:
        remaining = size_bytes
        while remaining and (chunk := stream.read(min(chunk_bytes, remaining))):
            hasher.update(chunk)
            remaining -= len(chunk)

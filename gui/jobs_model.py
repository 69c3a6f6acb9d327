"""``JobTableModel``: the daemon's jobs as a Qt table, fed by ``list`` replies and events.

One row per job, newest first. ``reset_jobs`` takes a ``list`` reply (the state after a
(re)connect), ``apply_event`` the live ``job_state`` and ``progress`` events. The model knows no
sockets, so its logic is tested with protocol objects alone.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal

from xdub.errors import XdubError
from xdub.protocol.messages import JobStateEvent, ProgressEvent
from xdub.protocol.records import ErrorInfo, JobInfo, JobState, Preset, Progress, TakeQuality
from xdub.protocol.schema import Content
from xdub_gui.row_table import ModelIndex, RowTableModel
from xdub_gui.takes import timeline_facts

log = logging.getLogger(__name__)

FRACTION_ROLE = Qt.ItemDataRole.UserRole + 1
"""``data`` role of the progress column: the job's fraction 0-1 as a float."""
JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 2


class Column(IntEnum):
    CLIP = 0
    HOST = 1
    STATE = 2
    PROGRESS = 3
    STAGE = 4
    ETA = 5


HEADERS = {
    Column.CLIP: "Clip",
    Column.HOST: "Host",
    Column.STATE: "State",
    Column.PROGRESS: "Progress",
    Column.STAGE: "Stage",
    Column.ETA: "ETA",
}


@dataclass(frozen=True)
class JobRow:
    """One job as the queue window shows it. ``name`` is the job timeline's; ``clip_name`` the
    clip being dubbed: ``JobInfo.clip`` (protocol 1.1), else what the result timeline says (a
    done job of a 1.0 daemon), else ``None``."""

    job_id: str
    name: str
    state: JobState
    created_at: str
    progress: Progress | None = None
    error: ErrorInfo | None = None
    result_otio: str | None = None
    clip_name: str | None = None
    host: str | None = None
    quality: TakeQuality | None = None
    """The daemon's check of the finished take (protocol 1.2), from ``get``/``list``."""
    is_draft: bool = False
    """Submitted with the draft preset (a ``Make final`` candidate once done)."""
    runner: str | None = None
    """The Ray farm actor running it (protocol 1.3), from ``get``/``list``."""

    @classmethod
    def from_info(cls, info: JobInfo) -> JobRow:
        row = cls(
            job_id=info.job_id,
            name=info.name,
            state=info.state,
            created_at=info.created_at,
            progress=info.progress,
            error=info.error,
            clip_name=info.clip,
            host=info.host,
            quality=info.quality,
            is_draft=info.options.preset is Preset.DRAFT,
            runner=info.runner,
        )
        return row.with_result(info.result_otio)

    def with_result(self, result_otio: str | None) -> JobRow:
        """This row with ``result_otio``, the host it records (the job info's stays where it
        names none), and its clip name where the job info gave none."""
        if result_otio is None:
            return dataclasses.replace(self, result_otio=None)
        try:
            facts = timeline_facts(result_otio)
        except Exception as error:  # a foreign OTIO must not break the table
            log.warning("job %s: unreadable result timeline: %s", self.job_id, error)
            return dataclasses.replace(self, result_otio=result_otio)
        return dataclasses.replace(
            self,
            result_otio=result_otio,
            clip_name=self.clip_name or facts.clip_name,
            host=facts.host or self.host,
        )

    @property
    def title(self) -> str:
        """What the clip column shows: the clip's name, or the job's name without one."""
        return self.clip_name or self.name

    @property
    def fraction(self) -> float:
        if self.state is JobState.DONE:
            return 1.0
        return self.progress.fraction if self.progress else 0.0

    @property
    def can_cancel(self) -> bool:
        return self.state in (JobState.QUEUED, JobState.RUNNING)

    @property
    def can_retry(self) -> bool:
        return self.state in (JobState.FAILED, JobState.CANCELLED)

    @property
    def can_make_final(self) -> bool:
        return self.is_draft and self.state is JobState.DONE

    @property
    def can_reveal(self) -> bool:
        return self.state is JobState.DONE and self.result_otio is not None

    def error_details(self) -> str:
        """Everything a bug report needs about this job's failure, as plain text."""
        lines = [f"job {self.job_id} ({self.title}): {self.state.value}"]
        if self.title != self.name:
            lines.append(f"timeline: {self.name}")
        if self.error is not None:
            lines.append(f"code: {self.error.code}")
            lines.append(f"message: {self.error.message}")
            if self.error.hint:
                lines.append(f"hint: {self.error.hint}")
        if self.progress is not None:
            lines.append(f"last stage: {self.progress.stage.value} ({self.progress.fraction:.0%})")
        return "\n".join(lines)


def format_eta(eta_s: float | None) -> str:
    """``412.5`` -> ``"6m 53s"``; ``None`` -> ``""``."""
    if eta_s is None:
        return ""
    seconds = int(round(eta_s))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def _stage_text(row: JobRow) -> str:
    progress = row.progress
    if progress is None or row.state is not JobState.RUNNING:
        return ""
    text = progress.stage.value.replace("_", " ")
    if progress.num_clips:
        text += f" · clip {progress.clip}/{progress.num_clips}"
    if progress.num_steps and progress.step:
        text += f" · step {progress.step}/{progress.num_steps}"
    if row.runner:
        text += f" · on {row.runner}"
    return text


class JobTableModel(RowTableModel):
    """The job queue. Signals: ``take_ready(JobRow)`` and ``job_failed(JobRow)`` when an event
    says so, ``unknown_job(str)`` when an event names a job the table has not seen (ask ``get``).
    """

    columns = Column
    headers = HEADERS
    take_ready = Signal(object)
    job_failed = Signal(object)
    started = Signal(object)
    unknown_job = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[JobRow] = []

    # -- reading ------------------------------------------------------------------------------

    def data(self, index: ModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = Column(index.column())
        if role == JOB_ID_ROLE:
            return row.job_id
        if role == FRACTION_ROLE and column is Column.PROGRESS:
            return row.fraction
        if role == Qt.ItemDataRole.ToolTipRole and row.error is not None:
            return f"{row.error.message}\n{row.error.hint or ''}".strip()
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return self._display(row, column)

    @staticmethod
    def _display(row: JobRow, column: Column) -> str:
        if column is Column.CLIP:
            return row.title
        if column is Column.HOST:
            return row.host or "—"
        if column is Column.STATE:
            return row.state.value
        if column is Column.PROGRESS:
            return f"{row.fraction:.0%}"
        if column is Column.STAGE:
            return _stage_text(row)
        eta = row.progress.eta_s if row.progress and row.state is JobState.RUNNING else None
        return format_eta(eta)

    def rows(self) -> list[JobRow]:
        return list(self._rows)

    def row_at(self, index: int) -> JobRow:
        return self._rows[index]

    def find(self, job_id: str) -> JobRow | None:
        position = self._position(job_id)
        return None if position is None else self._rows[position]

    def _position(self, job_id: str) -> int | None:
        for position, row in enumerate(self._rows):
            if row.job_id == job_id:
                return position
        return None

    # -- writing ------------------------------------------------------------------------------

    def reset_jobs(self, jobs: Iterable[JobInfo]) -> None:
        """Replace every row with ``jobs`` (a ``list`` reply), newest first."""
        rows = sorted((JobRow.from_info(info) for info in jobs), key=lambda r: r.created_at)
        self.beginResetModel()
        self._rows = rows[::-1]
        self.endResetModel()

    def upsert(self, info: JobInfo) -> None:
        """Insert or replace one job (a ``get`` reply)."""
        self._put(JobRow.from_info(info))

    def _put(self, row: JobRow) -> None:
        position = self._position(row.job_id)
        if position is None:
            insert_at = sum(1 for r in self._rows if r.created_at > row.created_at)
            self.beginInsertRows(QModelIndex(), insert_at, insert_at)
            self._rows.insert(insert_at, row)
            self.endInsertRows()
            return
        self._rows[position] = row
        left = self.index(position, 0)
        self.dataChanged.emit(left, self.index(position, len(Column) - 1))

    def apply_event(self, event: Content) -> None:
        """Fold a ``job_state`` or ``progress`` event into the table; other events are ignored."""
        if isinstance(event, ProgressEvent):
            row = self.find(event.job_id)
            if row is None:
                self.unknown_job.emit(event.job_id)
                return
            if row.state is JobState.QUEUED:
                row = dataclasses.replace(row, state=JobState.RUNNING)  # the event beat the state
            self._put(dataclasses.replace(row, progress=event.progress))
        elif isinstance(event, JobStateEvent):
            row = self.find(event.job_id)
            if row is None:
                self.unknown_job.emit(event.job_id)
                return
            quality = row.quality if event.state is JobState.DONE else None
            runner = row.runner if event.state is JobState.RUNNING else None
            changed = dataclasses.replace(
                row, state=event.state, error=event.error, quality=quality, runner=runner
            )
            changed = changed.with_result(event.result_otio)
            self._put(changed)
            if event.state is JobState.RUNNING and row.state is not JobState.RUNNING:
                self.started.emit(changed)  # ``get`` says where it runs (a farm's actor)
            if event.state is JobState.DONE and row.state is not JobState.DONE:
                self.take_ready.emit(changed)
            elif event.state is JobState.FAILED and row.state is not JobState.FAILED:
                self.job_failed.emit(changed)

    def apply_error(self, job_id: str, error: XdubError) -> None:
        """Record a failed request about ``job_id`` in its tooltip (e.g. a refused cancel)."""
        log.info("request about job %s failed: %s", job_id, error.message)

"""``ModelTableModel``: the model manager's components as a Qt table.

Fed by ``models`` replies (``ModelInfo`` per component) and ``model_download`` events (bytes,
speed, ETA of the file being fetched). Like the job table it knows no sockets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal

from xdub.protocol.messages import ModelDownloadEvent
from xdub.protocol.records import DownloadState, ModelInfo, ModelState
from xdub.protocol.schema import Content
from xdub_gui.jobs_model import FRACTION_ROLE, format_eta
from xdub_gui.row_table import ModelIndex, RowTableModel

NAME_ROLE = Qt.ItemDataRole.UserRole + 3


class ModelColumn(IntEnum):
    NAME = 0
    STATE = 1
    SIZE = 2
    ON_DISK = 3
    DOWNLOAD = 4
    SPEED = 5
    ETA = 6


MODEL_HEADERS = {
    ModelColumn.NAME: "Component",
    ModelColumn.STATE: "State",
    ModelColumn.SIZE: "Size",
    ModelColumn.ON_DISK: "On disk",
    ModelColumn.DOWNLOAD: "Download",
    ModelColumn.SPEED: "Speed",
    ModelColumn.ETA: "ETA",
}

NEEDS_DOWNLOAD = (ModelState.MISSING, ModelState.PARTIAL, ModelState.CORRUPT)


def format_bytes(size_bytes: float) -> str:
    """``3090000000`` -> ``"2.9 GiB"`` (binary units, one decimal above KiB)."""
    value = float(size_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024.0 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024.0
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class ModelRow:
    """A component and, while it downloads, its last ``model_download`` event."""

    info: ModelInfo
    download: ModelDownloadEvent | None = None
    is_required: bool = True

    @property
    def needs_download(self) -> bool:
        """Missing, partial or corrupt; a missing optional component is not needed."""
        if self.info.state is ModelState.MISSING and not self.is_required:
            return False
        return self.info.state in NEEDS_DOWNLOAD

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def is_downloading(self) -> bool:
        return self.download is not None and self.download.state in (
            DownloadState.DOWNLOADING,
            DownloadState.VERIFYING,
        )

    @property
    def fraction(self) -> float:
        if self.info.state is ModelState.READY:
            return 1.0
        event = self.download
        if event is not None and event.bytes_total:
            return event.bytes_done / event.bytes_total
        size = self.info.size_bytes
        return min(1.0, self.info.bytes_on_disk / size) if size else 0.0


class ModelTableModel(RowTableModel):
    """Components of the model folder. ``download_finished(str, str)``: name, final state."""

    columns = ModelColumn
    headers = MODEL_HEADERS
    download_finished = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ModelRow] = []

    def data(self, index: ModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = ModelColumn(index.column())
        if role == NAME_ROLE:
            return row.name
        if role == FRACTION_ROLE and column is ModelColumn.DOWNLOAD:
            return row.fraction
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.info.path
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return _display(row, column)

    def rows(self) -> list[ModelRow]:
        return list(self._rows)

    def find(self, name: str) -> ModelRow | None:
        return next((row for row in self._rows if row.name == name), None)

    # -- summary -------------------------------------------------------------------------------

    def needs_download(self) -> list[str]:
        """Names of components that are missing, partial or corrupt."""
        return [row.name for row in self._rows if row.needs_download]

    def bytes_to_fetch(self) -> int:
        return sum(
            max(0, row.info.size_bytes - row.info.bytes_on_disk)
            for row in self._rows
            if row.needs_download
        )

    def disk_usage_bytes(self) -> int:
        return sum(row.info.bytes_on_disk for row in self._rows)

    def total_size_bytes(self) -> int:
        return sum(row.info.size_bytes for row in self._rows)

    def is_ready(self) -> bool:
        return bool(self._rows) and not self.needs_download()

    # -- writing --------------------------------------------------------------------------------

    def reset_models(self, models: Iterable[ModelInfo], optional: Iterable[str] = ()) -> None:
        """Replace the rows with a full ``models`` listing (keeps downloads' progress);
        ``optional`` names components the pipeline can do without."""
        previous = {row.name: row.download for row in self._rows}
        skippable = set(optional)
        self.beginResetModel()
        self._rows = [
            ModelRow(info, previous.get(info.name), info.name not in skippable) for info in models
        ]
        self.endResetModel()

    def update_models(self, models: Iterable[ModelInfo]) -> None:
        """Update the named rows from a partial ``models`` reply; new names are appended."""
        for info in models:
            self._put(info.name, lambda row, info=info: dataclasses.replace(row, info=info), info)

    def apply_event(self, event: Content) -> None:
        """Fold a ``model_download`` event into its row; other events are ignored."""
        if not isinstance(event, ModelDownloadEvent):
            return
        row = self.find(event.name)
        if row is None:
            return
        info = row.info
        if event.state is DownloadState.DOWNLOADING:
            info = dataclasses.replace(info, state=ModelState.DOWNLOADING)
        elif event.state is DownloadState.VERIFYING:
            info = dataclasses.replace(info, state=ModelState.VERIFYING)
        self._put(event.name, lambda r: dataclasses.replace(r, info=info, download=event), info)
        if event.state in (DownloadState.DONE, DownloadState.FAILED, DownloadState.CANCELLED):
            self.download_finished.emit(event.name, event.state.value)

    def _put(self, name: str, change: Any, info: ModelInfo) -> None:
        for position, row in enumerate(self._rows):
            if row.name == name:
                self._rows[position] = change(row)
                last = self.index(position, len(ModelColumn) - 1)
                self.dataChanged.emit(self.index(position, 0), last)
                return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(ModelRow(info))
        self.endInsertRows()


def _display(row: ModelRow, column: ModelColumn) -> str:
    info, event = row.info, row.download
    if column is ModelColumn.NAME:
        return info.name
    if column is ModelColumn.STATE:
        is_optional = not row.is_required and info.state is ModelState.MISSING
        return "not needed" if is_optional else info.state.value
    if column is ModelColumn.SIZE:
        return format_bytes(info.size_bytes)
    if column is ModelColumn.ON_DISK:
        return format_bytes(info.bytes_on_disk)
    if not row.is_downloading or event is None:
        return f"{row.fraction:.0%}" if column is ModelColumn.DOWNLOAD else ""
    if column is ModelColumn.DOWNLOAD:
        total = format_bytes(event.bytes_total) if event.bytes_total else "?"
        return f"{format_bytes(event.bytes_done)} / {total}"
    if column is ModelColumn.SPEED:
        return f"{format_bytes(event.speed_bps)}/s"
    return format_eta(event.eta_s)

"""``RowTableModel``: a Qt table with one row object per line and fixed, named columns.

The job and model tables share it: the row count, column count and horizontal headers come
from ``_rows``, ``columns`` (an ``IntEnum``, the column order) and ``headers`` (its titles);
a subclass fills ``_rows`` and answers ``data``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Any, ClassVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

ModelIndex = QModelIndex | QPersistentModelIndex


class RowTableModel(QAbstractTableModel):
    """Rows and columns of a flat table; ``columns`` and ``headers`` are set by the subclass."""

    columns: ClassVar[type[IntEnum]]
    headers: ClassVar[Mapping[Any, str]]
    _rows: Sequence[Any]

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[self.columns(section)]
        return None

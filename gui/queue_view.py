"""``QueueView``: the job table with cancel, retry, reveal-the-take and copy-error actions."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from xdub.errors import XdubError
from xdub_gui.jobs_model import Column, JobRow
from xdub_gui.progress_delegate import ProgressDelegate
from xdub_gui.quality_view import QualityPanel
from xdub_gui.queue_controller import QueueController
from xdub_gui.status import DaemonStatus
from xdub_gui.takes import Opener, reveal, take_path


class QueueView(QWidget):
    """Every job of the daemon, live. ``opener`` runs the file-manager command (a seam)."""

    def __init__(
        self,
        controller: QueueController,
        opener: Opener | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self._opener = opener
        self.status_label = QLabel(controller.status.text)
        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        self.table = QTableView()
        self.table.setModel(controller.jobs)
        self.table.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(Column.CLIP, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(Column.STAGE, QHeaderView.ResizeMode.Stretch)
        self.cancel_button = QPushButton("Cancel")
        self.retry_button = QPushButton("Retry")
        self.final_button = QPushButton("Make final")
        self.final_button.setToolTip(
            "re-run this draft at the final preset: same seed, same crop track, no new tracking"
        )
        self.reveal_button = QPushButton("Show take")
        self.copy_error_button = QPushButton("Copy error details")
        buttons = QHBoxLayout()
        for button in (
            self.cancel_button,
            self.retry_button,
            self.final_button,
            self.reveal_button,
            self.copy_error_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.quality_panel = QualityPanel()
        layout.addWidget(self.quality_panel)
        layout.addWidget(self.message_label)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.retry_button.clicked.connect(self.retry_selected)
        self.final_button.clicked.connect(self.make_final_of_selected)
        self.reveal_button.clicked.connect(self.reveal_selected)
        self.copy_error_button.clicked.connect(self.copy_error_of_selected)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        controller.jobs.dataChanged.connect(self._update_buttons)
        controller.jobs.modelReset.connect(self._update_buttons)
        controller.status_changed.connect(self._on_status)
        controller.action_failed.connect(self.message_label.setText)
        self._update_buttons()

    def selected(self) -> JobRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.controller.jobs.row_at(rows[0].row()) if rows else None

    def select_job(self, job_id: str) -> None:
        for position, row in enumerate(self.controller.jobs.rows()):
            if row.job_id == job_id:
                self.table.selectRow(position)
                return
        raise KeyError(job_id)

    @Slot()
    def cancel_selected(self) -> None:
        row = self.selected()
        if row is not None and row.can_cancel:
            self.controller.cancel(row.job_id)

    @Slot()
    def retry_selected(self) -> None:
        row = self.selected()
        if row is not None and row.can_retry:
            self.controller.retry(row.job_id)

    @Slot()
    def make_final_of_selected(self) -> None:
        row = self.selected()
        if row is not None and row.can_make_final:
            self.controller.make_final(row.job_id)
            self.message_label.setText(f"final take of {row.title} queued")

    @Slot()
    def reveal_selected(self) -> list[str] | None:
        """Open the file manager on the selected job's take; returns the command run."""
        row = self.selected()
        if row is None or row.result_otio is None:
            return None
        try:
            path = take_path(row.result_otio)
            command = reveal(path, self._opener) if self._opener else reveal(path)
        except XdubError as error:
            self.message_label.setText(error.message)
            return None
        self.message_label.setText(f"take: {path}")
        return command

    @Slot()
    def copy_error_of_selected(self) -> None:
        row = self.selected()
        if row is not None:
            QApplication.clipboard().setText(row.error_details())
            self.message_label.setText("error details copied to the clipboard")

    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, *_: object) -> None:
        self._update_buttons()

    @Slot()
    def _update_buttons(self, *_: object) -> None:
        row = self.selected()
        self.cancel_button.setEnabled(row is not None and row.can_cancel)
        self.retry_button.setEnabled(row is not None and row.can_retry)
        self.final_button.setEnabled(row is not None and row.can_make_final)
        self.reveal_button.setEnabled(row is not None and row.can_reveal)
        self.copy_error_button.setEnabled(row is not None and row.error is not None)
        self.quality_panel.show_row(row)

    @Slot(object)
    def _on_status(self, status: DaemonStatus) -> None:
        self.status_label.setText(status.text)

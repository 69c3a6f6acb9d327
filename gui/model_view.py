"""``ModelManagerView``: components, sizes, disk use, download with progress, verify, delete.

The daemon owns the model folder; this view asks it (``ModelBackend``). When weights are
missing a banner says so and offers the one action that fixes it (download what is missing).
The folder can be changed: the daemon is told (``models_dir``, applied at its next start).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from xdub.protocol.messages import ModelDownloadEvent
from xdub_gui.jobs_model import format_eta
from xdub_gui.model_backend import ModelBackend
from xdub_gui.models_model import ModelColumn, ModelTableModel, format_bytes
from xdub_gui.progress_delegate import ProgressDelegate


class ModelManagerView(QWidget):
    """The model folder and what is in it, driven by a ``ModelBackend``."""

    def __init__(self, backend: ModelBackend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.models = ModelTableModel(self)
        self.folder_edit = QLineEdit(str(backend.model_dir or ""))
        self.folder_edit.setReadOnly(True)
        self.change_folder_button = QPushButton("Change…")
        self.banner = QLabel("")
        self.banner.setWordWrap(True)
        self.fix_button = QPushButton("Download missing weights")
        self.table = QTableView()
        self.table.setModel(self.models)
        self.table.setItemDelegateForColumn(ModelColumn.DOWNLOAD, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            ModelColumn.DOWNLOAD, QHeaderView.ResizeMode.Stretch
        )
        self.total_bar = QProgressBar()
        self.total_bar.setRange(0, 1000)
        self.total_label = QLabel("")
        self.disk_label = QLabel("")
        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel download")
        self.verify_button = QPushButton("Verify")
        self.delete_button = QPushButton("Delete selected")
        self._build_layout()
        self._connect()
        self._is_busy = False
        self._is_downloading = False
        self._was_paused = False
        self._update_actions()

    def _build_layout(self) -> None:
        folder = QHBoxLayout()
        folder.addWidget(QLabel("Model folder:"))
        folder.addWidget(self.folder_edit, 1)
        folder.addWidget(self.change_folder_button)
        banner = QHBoxLayout()
        banner.addWidget(self.banner, 1)
        banner.addWidget(self.fix_button)
        actions = QHBoxLayout()
        for button in (
            self.pause_button,
            self.resume_button,
            self.cancel_button,
            self.verify_button,
            self.delete_button,
        ):
            actions.addWidget(button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(folder)
        layout.addLayout(banner)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.total_bar)
        layout.addWidget(self.total_label)
        layout.addWidget(self.disk_label)
        layout.addLayout(actions)
        layout.addWidget(self.message_label)

    def _connect(self) -> None:
        backend = self.backend
        backend.listed.connect(self._on_listed)
        backend.progress.connect(self._on_progress)
        backend.download_ended.connect(self._on_download_ended)
        backend.verified.connect(self._on_verified)
        backend.failed.connect(self.message_label.setText)
        backend.busy_changed.connect(self._on_busy)
        backend.folder_changed.connect(self.folder_edit.setText)
        self.fix_button.clicked.connect(self.download_missing)
        self.resume_button.clicked.connect(self.download_missing)
        self.pause_button.clicked.connect(backend.pause)
        self.cancel_button.clicked.connect(backend.cancel)
        self.verify_button.clicked.connect(lambda: backend.verify())
        self.delete_button.clicked.connect(self.delete_selected)
        self.change_folder_button.clicked.connect(self._choose_folder)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)

    # -- actions ------------------------------------------------------------------------------

    @Slot()
    def download_missing(self) -> None:
        """Fetch what the pipeline needs (resuming partial files)."""
        self.message_label.setText("downloading…")
        self._is_downloading = True
        self.backend.download(None)
        self._update_actions()

    @Slot()
    def delete_selected(self) -> None:
        names = [
            self.models.rows()[index.row()].name
            for index in self.table.selectionModel().selectedRows()
        ]
        if names:
            self.backend.delete(names)

    def set_folder(self, folder: Path) -> None:
        self.backend.set_folder(folder.resolve())
        self.message_label.setText("the daemon uses the new folder from its next start")

    @Slot()
    def _choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Model folder", self.folder_edit.text())
        if chosen:
            self.set_folder(Path(chosen))

    # -- backend results ----------------------------------------------------------------------

    @Slot(object, object, object)
    def _on_listed(self, infos: Any, optional: Any, free_bytes: int | None) -> None:
        self.models.reset_models(infos, optional)
        free = f" · free: {format_bytes(free_bytes)}" if free_bytes is not None else ""
        self.disk_label.setText(
            f"On disk: {format_bytes(self.models.disk_usage_bytes())} of "
            f"{format_bytes(self.models.total_size_bytes())}{free}"
        )
        self._update_actions()

    @Slot(object)
    def _on_progress(self, report: ModelDownloadEvent) -> None:
        self.models.apply_event(report)
        done, total = report.download_bytes_done, report.download_bytes_total
        if done is None or total is None:  # a 1.1 daemon: the file's bytes only
            done, total = report.bytes_done, report.bytes_total or 0
        if total:
            self.total_bar.setValue(int(1000 * done / total))
        eta = format_eta(report.eta_s)
        self.total_label.setText(
            f"{format_bytes(done)} / {format_bytes(total)} · "
            f"{format_bytes(report.speed_bps)}/s" + (f" · {eta} left" if eta else "")
        )

    @Slot(str, str)
    def _on_download_ended(self, outcome: str, note: str) -> None:
        self._was_paused = outcome == "paused"
        self._is_downloading = False
        text = {
            "done": "download complete",
            "paused": "paused: Resume continues where it stopped",
            "cancelled": "download cancelled",
            "failed": "download failed",
        }[outcome]
        self.message_label.setText(f"{text}. {note}".strip() if note else text)
        if outcome == "done":
            self.total_bar.setValue(1000)
        self._update_actions()

    @Slot(object)
    def _on_verified(self, problems: Any) -> None:
        if problems:
            shown = "\n".join(problems[:8])
            self.message_label.setText(f"verify found {len(problems)} problem(s):\n{shown}")
        else:
            self.message_label.setText("verify: every file is intact")

    @Slot(bool)
    def _on_busy(self, is_busy: bool) -> None:
        self._is_busy = is_busy
        self._update_actions()

    @Slot()
    def _update_actions(self, *_: object) -> None:
        missing = self.models.needs_download()
        is_downloading = self._is_downloading
        if missing:
            self.banner.setText(
                f"Weights missing: {', '.join(missing)} "
                f"({format_bytes(self.models.bytes_to_fetch())} to download). "
                "Dubbing needs them."
            )
        elif self.models.rows():
            self.banner.setText("All weights are installed.")
        self.fix_button.setVisible(bool(missing) and not self._was_paused)
        self.fix_button.setEnabled(not self._is_busy)
        self.resume_button.setVisible(self._was_paused and not self._is_busy)
        self.pause_button.setEnabled(is_downloading)
        self.cancel_button.setEnabled(is_downloading or self._was_paused)
        self.verify_button.setEnabled(not self._is_busy)
        has_selection = bool(self.table.selectionModel().selectedRows())
        self.delete_button.setEnabled(has_selection and not self._is_busy)

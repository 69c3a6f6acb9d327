"""``DiagnosticsView``: the daemon's log (refreshable) and a "Copy diagnostics" button."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from xdub_gui.diagnostics import log_tail


class DiagnosticsView(QWidget):
    """Shows ``log_file``; ``make_report`` builds the text that "Copy diagnostics" copies."""

    def __init__(
        self, log_file: Path, make_report: Callable[[], str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.log_file = log_file
        self._make_report = make_report
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.refresh_button = QPushButton("Refresh log")
        self.copy_button = QPushButton("Copy diagnostics")
        self.message_label = QLabel(str(log_file))
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.log_view, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message_label)
        self.refresh_button.clicked.connect(self.refresh)
        self.copy_button.clicked.connect(self.copy_diagnostics)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        self.log_view.setPlainText(log_tail(self.log_file))
        bar = self.log_view.verticalScrollBar()
        bar.setValue(bar.maximum())

    @Slot()
    def copy_diagnostics(self) -> str:
        report = self._make_report()
        QApplication.clipboard().setText(report)
        self.message_label.setText("diagnostics copied to the clipboard")
        return report

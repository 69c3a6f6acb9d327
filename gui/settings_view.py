"""``SettingsView``: VRAM policy, quality preset, codec, output folder, autostart, LAN access,
and the import of a remote daemon's pairing code.

Saving writes the tray's settings file, applies autostart, and hands the daemon-side values to
``on_saved`` (the main window sends them as a ``settings`` request). "Connect" runs what
``xdub connect CODE`` runs (``xdub.cli.remote.connect``): the connection file every client here
reads then names the remote daemon, and the tray's client follows it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from xdub.cli.remote import connect
from xdub.errors import XdubError
from xdub.protocol.connection import ConnectionInfo
from xdub.protocol.records import Codec, VramPolicy
from xdub_gui.settings import (
    LAN_WARNING,
    QualityPreset,
    TraySettings,
    apply_autostart,
    save_settings,
)

CODEC_LABELS = {
    Codec.PRORES_HQ: "ProRes 422 HQ",
    Codec.DNXHR_HQ: "DNxHR HQ",
    Codec.H264: "H.264 (high quality)",
}
VRAM_LABELS = {
    VramPolicy.RESIDENT: "Keep models on the GPU (fastest)",
    VramPolicy.OFFLOAD: "Offload between stages (frees the GPU for the editor when idle)",
    VramPolicy.LOW_VRAM: "Low VRAM: also stream the model block by block (slowest)",
}


class SettingsView(QWidget):
    """Edits ``TraySettings``; ``confirm_lan`` asks before LAN access is turned on (a seam)."""

    def __init__(
        self,
        settings: TraySettings,
        *,
        settings_path: Path | None = None,
        on_saved: Callable[[TraySettings], None] | None = None,
        confirm_lan: Callable[[], bool] | None = None,
        connect_code: Callable[[str, str | None], tuple[ConnectionInfo, Path]] = connect,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self._path = settings_path
        self._on_saved = on_saved
        self._confirm_lan = confirm_lan or self._ask_lan
        self.vram_combo = _combo(VRAM_LABELS, settings.vram_policy)
        self.quality_combo = _combo(
            {p: f"{p.value.title()} ({p.num_steps} steps)" for p in QualityPreset}, settings.quality
        )
        self.codec_combo = _combo(CODEC_LABELS, settings.codec)
        self.output_edit = QLineEdit(settings.output_dir or "")
        self.output_edit.setPlaceholderText("the daemon's results folder")
        self.autostart_check = QCheckBox("Start the daemon when I log in")
        self.autostart_check.setChecked(settings.autostart)
        self.lan_check = QCheckBox("Allow access from the local network")
        self.lan_check.setChecked(settings.allow_lan)
        self.lan_warning = QLabel(LAN_WARNING)
        self.lan_warning.setWordWrap(True)
        self.lan_warning.setVisible(settings.allow_lan)
        self.save_button = QPushButton("Save")
        self.message_label = QLabel("")
        self._connect_code = connect_code
        self.pairing_edit = QLineEdit()
        self.pairing_edit.setPlaceholderText("xdub1:... (run `xdub daemon pair` on the GPU box)")
        self.pairing_name_edit = QLineEdit()
        self.pairing_name_edit.setPlaceholderText("optional name, e.g. gpu-box")
        self.connect_button = QPushButton("Connect")
        self.remote_label = QLabel("")
        self.remote_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow("GPU memory:", self.vram_combo)
        form.addRow("Default quality:", self.quality_combo)
        form.addRow("Default codec:", self.codec_combo)
        form.addRow("Output folder:", self.output_edit)
        form.addRow(self.autostart_check)
        form.addRow(self.lan_check)
        form.addRow(self.lan_warning)
        remote = QFormLayout()
        remote.addRow("Remote daemon code:", self.pairing_edit)
        remote.addRow("Keep as:", self.pairing_name_edit)
        remote.addRow(self.connect_button)
        remote.addRow(self.remote_label)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.save_button)
        layout.addWidget(self.message_label)
        layout.addLayout(remote)
        layout.addStretch(1)
        self.lan_check.toggled.connect(self._on_lan_toggled)
        self.save_button.clicked.connect(self.save)
        self.connect_button.clicked.connect(self.import_pairing_code)

    def current(self) -> TraySettings:
        """The settings as the form shows them; raises ``XdubError`` for a relative folder."""
        output = self.output_edit.text().strip() or None
        if output is not None and not os.path.isabs(output):
            raise XdubError(f"the output folder {output!r} is not an absolute path")
        return TraySettings(
            vram_policy=VramPolicy(self.vram_combo.currentData()),
            quality=QualityPreset(self.quality_combo.currentData()),
            codec=Codec(self.codec_combo.currentData()),
            output_dir=output,
            autostart=self.autostart_check.isChecked(),
            allow_lan=self.lan_check.isChecked(),
        )

    @Slot()
    def save(self) -> None:
        try:
            settings = self.current()
            path = save_settings(settings, self._path)
            if settings.autostart != self.settings.autostart:
                apply_autostart(settings.autostart)
        except (XdubError, OSError) as error:
            self.message_label.setText(f"not saved: {error}")
            return
        self.settings = settings
        self.message_label.setText(f"saved to {path}")
        if self._on_saved is not None:
            self._on_saved(settings)

    @Slot()
    def import_pairing_code(self) -> None:
        """Use the daemon of the pasted code (or saved name) from now on, as ``xdub connect``."""
        code = self.pairing_edit.text().strip()
        name = self.pairing_name_edit.text().strip() or None
        try:
            info, path = self._connect_code(code, name)
        except (XdubError, OSError) as error:
            hint = getattr(error, "hint", None)
            self.remote_label.setText(f"not connected: {error}" + (f" ({hint})" if hint else ""))
            return
        self.pairing_edit.clear()
        self.remote_label.setText(
            f"connected: the tray and the plugins now use the daemon at "
            f"{info.request_address} (connection file {path})"
        )

    @Slot(bool)
    def _on_lan_toggled(self, is_on: bool) -> None:
        if is_on and not self._confirm_lan():
            self.lan_check.setChecked(False)
            return
        self.lan_warning.setVisible(is_on)

    def _ask_lan(self) -> bool:
        answer = QMessageBox.warning(
            self,
            "Allow LAN access?",
            LAN_WARNING,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes


def _combo(labels: dict[Any, str], selected: object) -> QComboBox:
    combo = QComboBox()
    for value, label in labels.items():
        combo.addItem(label, value)
    combo.setCurrentIndex(list(labels).index(selected))
    return combo

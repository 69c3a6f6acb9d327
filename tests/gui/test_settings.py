"""Tray settings: defaults, a saved round trip, autostart entries, LAN access confirmation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from xdub.errors import XdubError
from xdub.protocol.records import Codec, VramPolicy
from xdub_gui.settings import (
    QualityPreset,
    TraySettings,
    apply_autostart,
    autostart_dir,
    load_settings,
    save_settings,
)
from xdub_gui.settings_view import SettingsView


def test_defaults_keep_lan_access_off() -> None:
    settings = load_settings()
    assert settings == TraySettings()
    assert settings.allow_lan is False
    assert settings.job_options().num_steps == QualityPreset.STANDARD.num_steps


def test_saved_settings_round_trip(tmp_path: Path) -> None:
    chosen = TraySettings(
        VramPolicy.OFFLOAD, QualityPreset.DRAFT, Codec.H264, str(tmp_path), True, True
    )
    path = save_settings(chosen)
    assert path.parent == Path(str(tmp_path / "config"))
    assert load_settings() == chosen
    assert chosen.job_options().codec is Codec.H264


def test_broken_settings_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "tray.json").write_text("{not json")
    with pytest.raises(XdubError, match="not valid JSON"):
        load_settings()


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="XDG autostart")
def test_autostart_writes_and_removes_the_login_entry() -> None:
    entry = apply_autostart(True, python="/opt/xdub/bin/python")
    assert entry is not None and entry.parent == autostart_dir()
    assert "Exec=/opt/xdub/bin/python -m xdub daemon start" in entry.read_text()
    apply_autostart(False)
    assert not entry.exists()


def test_lan_access_needs_confirmation_and_is_saved(qtbot: QtBot) -> None:
    answers = iter([False, True])
    view = SettingsView(TraySettings(), confirm_lan=lambda: next(answers))
    qtbot.addWidget(view)
    view.lan_check.setChecked(True)
    assert not view.lan_check.isChecked()  # refused: stays off
    view.lan_check.setChecked(True)
    assert view.lan_check.isChecked() and not view.lan_warning.isHidden()
    view.codec_combo.setCurrentIndex(view.codec_combo.findData(Codec.DNXHR_HQ))
    view.save()
    saved = load_settings()
    assert saved.allow_lan and saved.codec is Codec.DNXHR_HQ
    view.output_edit.setText("relative/folder")
    view.save()
    assert "not saved" in view.message_label.text()

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


def test_a_pairing_code_imported_in_the_settings_is_what_xdub_connect_writes(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zmq
    from PySide6.QtCore import Qt

    from xdub.protocol.connection import ConnectionInfo, read_connection_file
    from xdub.protocol.pairing import encode_pairing_code

    monkeypatch.setenv("XDUB_CONNECTION_FILE", str(tmp_path / "run" / "daemon.json"))
    monkeypatch.setenv("XDUB_DATA_DIR", str(tmp_path / "data"))
    server_key = zmq.curve_keypair()[0].decode("ascii")
    remote = ConnectionInfo.create(
        "tcp",
        "tcp://192.168.1.20:7450",
        "tcp://192.168.1.20:7451",
        xdub_version="1",
        request_server_key=server_key,
        event_server_key=server_key,
    )
    view = SettingsView(TraySettings())
    qtbot.addWidget(view)
    view.pairing_edit.setText("xdub1:mistyped")
    qtbot.mouseClick(view.connect_button, Qt.MouseButton.LeftButton)
    assert "not connected" in view.remote_label.text() and "pairing code" in (
        view.remote_label.text()
    )
    assert not (tmp_path / "run" / "daemon.json").exists()

    view.pairing_edit.setText(encode_pairing_code(remote))
    view.pairing_name_edit.setText("gpu-box")
    qtbot.mouseClick(view.connect_button, Qt.MouseButton.LeftButton)
    assert "connected: " in view.remote_label.text() and "192.168.1.20:7450" in (
        view.remote_label.text()
    )
    for path in (tmp_path / "run" / "daemon.json", tmp_path / "data/connections/gpu-box.json"):
        written = read_connection_file(path)
        assert (written.key, written.request_server_key) == (remote.key, server_key)
        assert written.request_address == remote.request_address
    assert view.pairing_edit.text() == ""  # the secret does not linger in the field

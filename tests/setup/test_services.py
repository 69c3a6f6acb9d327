"""The login service files: validated, and written/removed for real by ``xdub setup``."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest
import xmlschema

from xdub.setup.services import LAUNCHD_LABEL, SYSTEMD_UNIT, Service, task_xml

SCHEMA = Path(__file__).with_name("task_schema_subset.xsd")


def _launcher(tmp_path: Path) -> Path:
    launcher = tmp_path / "home dir" / ".local" / "bin" / "xdub"
    launcher.parent.mkdir(parents=True)
    launcher.write_text("#!/bin/sh\nexit 0\n")
    launcher.chmod(0o755)
    return launcher


def test_service_files_go_where_each_os_looks(tmp_path: Path) -> None:
    home, data, logs = tmp_path, tmp_path / "data", tmp_path / "logs"
    linux = Service.for_user("linux", home, None, data, home / "xdub", logs)
    assert linux.path == home / ".config" / "systemd" / "user" / SYSTEMD_UNIT
    xdg = Service.for_user("linux", home, str(tmp_path / "cfg"), data, home / "xdub", logs)
    assert xdg.path == tmp_path / "cfg" / "systemd" / "user" / SYSTEMD_UNIT
    mac = Service.for_user("darwin", home, None, data, home / "xdub", logs)
    assert mac.path == home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
    windows = Service.for_user("windows", home, None, data, home / "xdub.cmd", logs)
    assert windows.register_commands()[0][:2] == ["schtasks", "/Create"]
    assert ["systemctl", "--user", "enable", "--now", SYSTEMD_UNIT] in linux.register_commands()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    launcher = _launcher(tmp_path)  # a path with a space: ExecStart must quote it
    service = Service.for_user("linux", tmp_path, None, tmp_path, launcher, tmp_path)
    service.path.parent.mkdir(parents=True)
    service.path.write_bytes(service.render())
    result = subprocess.run(
        ["systemd-analyze", "verify", "--user", str(service.path)],
        capture_output=True, text=True, check=False,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(tmp_path)},
    )  # fmt: skip
    problems = [
        line for line in result.stderr.splitlines()
        if SYSTEMD_UNIT in line or "ExecStart" in line or "xdub" in line
    ]  # fmt: skip
    assert not problems, result.stderr


def test_systemd_analyze_catches_a_broken_unit(tmp_path: Path) -> None:
    # The check above can fail: a unit whose ExecStart is not absolute is reported.
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze")
    path = tmp_path / SYSTEMD_UNIT
    path.write_text("[Service]\nExecStart=xdub-not-absolute daemon start\n")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--user", str(path)], capture_output=True, text=True,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(tmp_path)},
        check=False,
    )  # fmt: skip
    assert result.returncode != 0 or "xdub-not-absolute" in result.stderr


def test_launchd_plist_loads_and_runs_daemon_start_at_login(tmp_path: Path) -> None:
    launcher = _launcher(tmp_path)
    service = Service.for_user("darwin", tmp_path, None, tmp_path, launcher, tmp_path / "logs")
    plist = plistlib.loads(service.render())
    assert plist["Label"] == LAUNCHD_LABEL
    assert plist["ProgramArguments"] == [str(launcher), "daemon", "start"]
    assert plist["RunAtLoad"] is True and plist["AbandonProcessGroup"] is True
    assert plist["StandardErrorPath"] == str(tmp_path / "logs" / "launchd.log")


def test_task_scheduler_xml_is_valid_against_the_task_schema(tmp_path: Path) -> None:
    schema = xmlschema.XMLSchema(SCHEMA)
    launcher = Path("C:/Users/Ed & Co/AppData/Local/xdub/xdub/bin/xdub.cmd")
    service = Service.for_user("windows", tmp_path, None, tmp_path, launcher, tmp_path)
    data = service.render()
    assert data[:2] in (b"\xff\xfe", b"\xfe\xff")  # UTF-16 with a byte-order mark
    text = data.decode("utf-16")
    schema.validate(text.replace('encoding="UTF-16"', 'encoding="UTF-8"'))
    decoded = schema.to_dict(text.replace('encoding="UTF-16"', 'encoding="UTF-8"'))
    assert decoded["Actions"]["Exec"][0]["Command"] == str(launcher)
    assert decoded["Principals"]["Principal"]["RunLevel"] == "LeastPrivilege"


def test_task_schema_subset_rejects_a_wrong_task() -> None:
    schema = xmlschema.XMLSchema(SCHEMA)
    text = task_xml(Path("C:/x/xdub.cmd"), "PC\\ed").replace('encoding="UTF-16"', "")
    assert schema.is_valid(text)
    assert not schema.is_valid(text.replace("LeastPrivilege", "Administrator"))
    assert not schema.is_valid(text.replace("<Command>C:/x/xdub.cmd</Command>", ""))

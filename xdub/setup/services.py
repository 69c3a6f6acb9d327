"""The daemon as a per-user login service: a systemd ``--user`` unit (Linux), a launchd
LaunchAgent (macOS) or a Task Scheduler task (Windows).

Each runs the ``xdub`` launcher's ``daemon start`` (which detaches the daemon and waits until it
answers) at login. ``render`` gives the file, ``register_commands``/``unregister_commands`` the
commands that load and unload it; registration needs a session manager, so its failure is
reported, not fatal: the file stays and the daemon still starts with ``xdub daemon start``.
"""

from __future__ import annotations

import getpass
import os
import plistlib
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

SYSTEMD_UNIT = "xdub-daemon.service"
LAUNCHD_LABEL = "org.xdub.daemon"
TASK_NAME = "xdub daemon"
TASK_NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task"


@dataclass(frozen=True)
class Service:
    """The login service of one user: where its file goes and how it is (un)registered."""

    system: str
    path: Path
    launcher: Path
    log_dir: Path

    @classmethod
    def for_user(
        cls, system: str, home: Path, config_home: str | None, data: Path, launcher: Path,
        log_dir: Path,
    ) -> Service:  # fmt: skip
        if system == "darwin":
            path = home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
        elif system == "windows":
            path = data / "xdub-daemon-task.xml"
        else:
            config = Path(config_home) if config_home else home / ".config"
            path = config / "systemd" / "user" / SYSTEMD_UNIT
        return cls(system, path, launcher, log_dir)

    def render(self) -> bytes:
        if self.system == "darwin":
            return launchd_plist(self.launcher, self.log_dir)
        if self.system == "windows":
            return task_xml(self.launcher, _windows_user()).encode("utf-16")
        return systemd_unit(self.launcher).encode("utf-8")

    def register_commands(self) -> list[list[str]]:
        if self.system == "darwin":
            return [["launchctl", "bootstrap", f"gui/{os.getuid()}", str(self.path)]]
        if self.system == "windows":
            return [["schtasks", "/Create", "/TN", TASK_NAME, "/XML", str(self.path), "/F"],
                    ["schtasks", "/Run", "/TN", TASK_NAME]]  # fmt: skip
        return [["systemctl", "--user", "daemon-reload"],
                ["systemctl", "--user", "enable", "--now", SYSTEMD_UNIT]]  # fmt: skip

    def unregister_commands(self) -> list[list[str]]:
        if self.system == "darwin":
            return [["launchctl", "bootout", f"gui/{os.getuid()}/{LAUNCHD_LABEL}"]]
        if self.system == "windows":
            return [["schtasks", "/Delete", "/TN", TASK_NAME, "/F"]]
        return [["systemctl", "--user", "disable", "--now", SYSTEMD_UNIT]]


def _quote_systemd(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_unit(launcher: Path) -> str:
    """A oneshot unit: ``xdub daemon start`` detaches the daemon, which stays in the unit's
    cgroup (RemainAfterExit) until ``ExecStop`` asks it to shut down."""
    return (
        "[Unit]\n"
        "Description=xdub daemon (visual dubbing queue and GPU worker)\n"
        "\n[Service]\n"
        "Type=oneshot\n"
        "RemainAfterExit=yes\n"
        f"ExecStart={_quote_systemd(launcher)} daemon start\n"
        f"ExecStop={_quote_systemd(launcher)} daemon stop\n"
        "TimeoutStartSec=120\n"
        "\n[Install]\n"
        "WantedBy=default.target\n"
    )


def launchd_plist(launcher: Path, log_dir: Path) -> bytes:
    """A LaunchAgent run at login; AbandonProcessGroup keeps the detached daemon alive."""
    return plistlib.dumps(
        {
            "Label": LAUNCHD_LABEL,
            "ProgramArguments": [str(launcher), "daemon", "start"],
            "RunAtLoad": True,
            "AbandonProcessGroup": True,
            "ProcessType": "Interactive",
            "StandardOutPath": str(log_dir / "launchd.log"),
            "StandardErrorPath": str(log_dir / "launchd.log"),
        }
    )


def _windows_user() -> str:
    domain = os.environ.get("USERDOMAIN")
    user = os.environ.get("USERNAME") or getpass.getuser()
    return f"{domain}\\{user}" if domain else user


def task_xml(launcher: Path, user: str) -> str:
    """A Task Scheduler 1.2 task: at this user's logon, run ``xdub daemon start`` as them,
    without elevation, with no time limit, also on battery."""
    user = escape(user)
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="{TASK_NAMESPACE}">
  <RegistrationInfo>
    <Author>{user}</Author>
    <Description>Starts the xdub daemon (visual dubbing) at logon.</Description>
    <URI>\\{TASK_NAME}</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>{user}</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{user}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Hidden>true</Hidden>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(str(launcher))}</Command>
      <Arguments>daemon start</Arguments>
    </Exec>
  </Actions>
</Task>
"""

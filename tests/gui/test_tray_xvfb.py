"""The tray icon under a real X server (Xvfb) with a tray host (trayer): it is available, it
shows, and its menu opens the window, starts the daemon and quits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("tray_probe.py")
X_START_TIMEOUT_S = 10.0


def _free_display() -> int:
    for number in range(99, 160):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            return number
    raise AssertionError("no free X display number in 99..159")


@pytest.fixture
def x_with_tray() -> Iterator[str]:
    """``DISPLAY`` of a fresh Xvfb with trayer running; both are stopped at the end."""
    if shutil.which("Xvfb") is None or shutil.which("trayer") is None:
        pytest.skip("Xvfb and trayer are not installed (.ci/run installs them)")
    display = f":{_free_display()}"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{display[1:]}")
    deadline = time.monotonic() + X_START_TIMEOUT_S
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    env = {**os.environ, "DISPLAY": display}
    trayer = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "200"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert socket.exists(), "Xvfb did not start"
        yield display
    finally:
        for process in (trayer, xvfb):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def test_tray_icon_is_available_and_its_menu_works(x_with_tray: str, tmp_path: Path) -> None:
    env = {**os.environ, "DISPLAY": x_with_tray, "QT_QPA_PLATFORM": "xcb"}
    done = subprocess.run(
        [sys.executable, str(PROBE), str(tmp_path / "no-daemon.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["tray_available"] is True
    assert result["icon_visible"] is True
    assert result["tooltip"] == "xdub daemon stopped"
    assert result["menu"] == ["Open xdub", "Start daemon", "Pause queue", "Quit"]
    assert result["pause_enabled"] is False  # no daemon, so nothing to pause
    assert result["window_shown"] is True
    assert result["starts"] == 1 and result["quits"] == 1

"""installers/install.sh for real into a throwaway HOME: install, demo, setup, upgrade, a failed
upgrade, uninstall.

SLOW (about 6 minutes on the 2-core CI machine: two installs of the 3.3 GB CUDA 13.0 torch lock,
which runs on the CPU here). Marked ``installer``; ``-m "not installer"`` leaves it out. The
wheelhouse is made from the lock with the local disk mirror reused (/opt/pypi*/files) and the
rest downloaded from the lock's URLs; ``$XDUB_TEST_WHEELHOUSE`` keeps it between runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xdub.errors import XdubError
from xdub.setup.environment import Installer, Request, StepFailed
from xdub.setup.layout import Layout
from xdub.setup.locks import LOCK_DIR
from xdub.setup.wheelhouse import make_wheelhouse

pytestmark = [pytest.mark.installer, pytest.mark.timeout(1800)]
REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK = LOCK_DIR / "pylock.linux-x86_64-cu130.toml"
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
MIRRORS = [Path("/opt/pypi/files"), Path("/opt/pypi-more/files")]


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("XDUB_TEST_WHEELHOUSE") or tmp_path_factory.mktemp("wheels"))
    try:
        make_wheelhouse(LOCK, folder, [m for m in MIRRORS if m.is_dir()])
    except XdubError as error:
        pytest.skip(f"cannot fill the wheelhouse (no network?): {error}")
    return folder


def file_list(home: Path) -> list[str]:
    return sorted(str(path.relative_to(home)) for path in home.rglob("*"))


class Machine:
    """A throwaway user: HOME, runtime dir, and a PATH with only uv added."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.home.mkdir()
        (self.home / "Documents").mkdir()
        (root / "run").mkdir(mode=0o700)
        (root / "bin").mkdir()
        assert UV is not None
        os.symlink(UV, root / "bin" / "uv")
        venv_bin = str(Path(sys.executable).parent)
        path = [p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin]
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("XDG_", "XDUB_", "UV_", "VIRTUAL_ENV"))}  # fmt: skip
        self.env.update(HOME=str(self.home), XDG_RUNTIME_DIR=str(root / "run"),
                        PATH=os.pathsep.join([str(root / "bin"), *path]),
                        UV_PYTHON_DOWNLOADS="never")  # fmt: skip
        self.layout = Layout.for_user("linux", self.home, {})

    def run(self, *argv: str, timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), env=self.env, capture_output=True, text=True,
                              timeout=timeout_s, check=False, cwd=self.home.parent)  # fmt: skip

    def install(self, wheelhouse: Path) -> subprocess.CompletedProcess[str]:
        return self.run(
            "sh",
            str(REPO_ROOT / "installers" / "install.sh"),
            "--torch",
            "cu130",
            "--wheelhouse",
            str(wheelhouse),
            "--",
            "--no-start",
            "--models",
            "skip",
        )

    def xdub(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.home / ".local" / "bin" / "xdub"), *args)


@pytest.mark.skipif(UV is None, reason="uv is not installed")
def test_install_demo_setup_upgrade_failed_upgrade_uninstall(
    tmp_path: Path, wheelhouse: Path
) -> None:
    machine = Machine(tmp_path)
    before = file_list(machine.home)

    started = time.monotonic()
    first = machine.install(wheelhouse)
    print(f"first install: {time.monotonic() - started:.0f} s")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "health check:" in first.stdout and "torch 2.14.1+cu130" in first.stdout
    first_env = machine.layout.current_env()
    assert first_env is not None

    demo = machine.xdub("demo", str(tmp_path / "demo"))
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert (tmp_path / "demo" / "take.mp4").stat().st_size > 0
    dry = machine.xdub("setup", "--dry-run", "--models", "skip")
    assert dry.returncode == 0 and "dry run: nothing changes" in dry.stdout, dry.stderr

    # A CPU (or other) torch where the machine wants another CUDA build is refused.
    check = Installer(Request(uv=str(UV), build="cu128"), layout=machine.layout,
                      environ=machine.env, say=lambda line: None)  # fmt: skip
    check.build, check.env_id, check.lock = "cu128", first_env, LOCK
    with pytest.raises(StepFailed, match="has CUDA 13.0, not 12.8"):
        check.step_check()

    # The user's settings, models and job store survive an upgrade.
    data = machine.layout.data
    (data / "models" / "x-dub").mkdir(parents=True)
    (data / "models" / "x-dub" / "dit.safetensors").write_bytes(b"weights")
    (data / "jobs.sqlite3").write_bytes(b"jobs")
    settings = machine.home / ".config" / "xdub" / "settings.json"
    settings.write_text('{"codec": "prores_hq"}')
    time.sleep(1.1)  # a new environment id (seconds in it)
    started = time.monotonic()
    upgrade = machine.install(wheelhouse)
    print(f"upgrade: {time.monotonic() - started:.0f} s")
    assert upgrade.returncode == 0, upgrade.stderr[-3000:]
    second_env = machine.layout.current_env()
    assert second_env not in (None, first_env)
    assert sorted(p.name for p in machine.layout.envs.iterdir()) == sorted([first_env, second_env])
    assert (data / "models" / "x-dub" / "dit.safetensors").read_bytes() == b"weights"
    assert (data / "jobs.sqlite3").read_bytes() == b"jobs"
    assert settings.read_text() == '{"codec": "prores_hq"}'

    # A failed upgrade (a wheel gone) names its step; the installed xdub keeps working.
    broken = tmp_path / "broken-wheelhouse"
    broken.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        if not wheel.name.startswith("torchvision-"):
            os.symlink(wheel, broken / wheel.name)
    time.sleep(1.1)
    failed = machine.install(broken)
    assert failed.returncode != 0
    assert "install step 'packages' failed" in failed.stderr
    assert "torchvision" in failed.stderr
    assert f"previous install ({second_env}) is untouched" in failed.stderr
    assert machine.layout.current_env() == second_env
    assert machine.xdub("--version").stdout.strip() == "xdub 0.1.0"

    for folder in (machine.layout.venv(second_env), machine.layout.app):
        disk = subprocess.run(["du", "-sh", str(folder)], capture_output=True, text=True)
        print(f"on disk: {disk.stdout.strip()}")
    gone = machine.run("sh", str(REPO_ROOT / "installers" / "install.sh"), "--uninstall",
                       "--purge")  # fmt: skip
    assert gone.returncode == 0, gone.stderr
    assert file_list(machine.home) == before

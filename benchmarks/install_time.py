"""Time and size of an install with installers/install.sh into a throwaway HOME.

    python benchmarks/install_time.py --wheelhouse WHEELS [--torch cu130] [--keep]

The wheelhouse comes from ``python -m xdub.setup.wheelhouse WHEELS --lock LOCK`` (offline
install, so the figure is the machine's, not the network's). Prints the wall time of the
install (environment + ``xdub setup --no-start --models skip``), the size on disk of the
environment and of the app folder, and the time of ``--uninstall --purge``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def du(path: Path) -> str:
    return subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True).stdout.split()[
        0
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheelhouse", type=Path, required=True)
    parser.add_argument("--torch", default="cu130")
    parser.add_argument("--keep", action="store_true", help="leave the throwaway HOME")
    args = parser.parse_args()
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is not installed")
    root = Path(tempfile.mkdtemp(prefix="xdub-install-bench-"))
    home, run_dir, bin_dir = root / "home", root / "run", root / "bin"
    for folder in (home, run_dir, bin_dir):
        folder.mkdir(mode=0o700)
    os.symlink(uv, bin_dir / "uv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "XDUB_", "UV_"))}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(run_dir), UV_PYTHON_DOWNLOADS="never",
               PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")  # fmt: skip
    script = str(REPO_ROOT / "installers" / "install.sh")
    started = time.monotonic()
    subprocess.run(
        ["sh", script, "--torch", args.torch, "--wheelhouse", str(args.wheelhouse.resolve()),
         "--", "--no-start", "--models", "skip"], env=env, cwd=root, check=True,
    )  # fmt: skip
    install_s = time.monotonic() - started
    app = home / ".local" / "share" / "xdub" / "app"
    env_id = (app / "current").read_text().strip()
    print(f"install: {install_s:.0f} s; environment {du(app / 'envs' / env_id)}, app {du(app)}")
    if not args.keep:
        started = time.monotonic()
        subprocess.run(["sh", script, "--uninstall", "--purge"], env=env, cwd=root, check=True)
        print(f"uninstall --purge: {time.monotonic() - started:.0f} s")
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())

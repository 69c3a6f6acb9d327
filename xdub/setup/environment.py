"""Create or upgrade the app environment from a lock, then hand over to ``xdub setup``.

Stdlib-only: the OS bootstraps run it with uv's Python from the source folder, before anything
is installed (``python -m xdub.setup.environment --uv UV [options] [-- setup options]``).

Every install builds a fresh environment beside the current one and switches the launchers
to it only after it imports torch and xdub and its torch matches the chosen build; a failed
step removes the half-built environment, names the step, and the previous install keeps
working. Nothing resolves on the user's machine: packages come from the lock's URLs with
their hashes (or, with ``--wheelhouse``, the same files by hash from a folder, no index).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import xdub
from xdub.errors import XdubError
from xdub.setup import accelerator, locks
from xdub.setup.layout import LAUNCHERS, Layout
from xdub.setup.manifest import Manifest

PYTHON_VERSION = "3.11"
SOURCE_ROOT = Path(__file__).resolve().parents[2]
SOURCE_PARTS = ("pyproject.toml", "README.md", "xdub", "daemon", "gui", "plugins")
"""What an environment's ``src`` copy holds: the package folders and the host plugins."""
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
LINK_FAILURE_SIGNS = (
    "hardlink", "failed to link", "failed to clone", "cross-device", "os error 18",
    "operation not permitted", "access is denied", "reflink",
)  # fmt: skip
"""uv messages of a cache/link failure; the install then retries once with copies."""
EXPECTED_CUDA = {"cu126": "12.6", "cu128": "12.8", "cu130": "13.0"}
CHECK_SCRIPT = (
    "import json, torch, xdub.pipeline, xdub_daemon; "
    "print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda, "
    "'hip': getattr(torch.version, 'hip', None), 'mps': torch.backends.mps.is_built()}))"
)

Run = Callable[[Sequence[str], dict[str, str]], subprocess.CompletedProcess[str]]


def run_subprocess(argv: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real runner: output captured, for the error message of a failed step."""
    return subprocess.run(list(argv), env=env, capture_output=True, text=True, check=False)


class StepFailed(XdubError):
    """A step of the install failed; the previous install (if any) is untouched."""

    code = "setup_failed"

    def __init__(self, step: str, message: str, hint: str) -> None:
        super().__init__(f"install step '{step}' failed: {message}", hint=hint)
        self.step = step


@dataclass
class Request:
    """What to install: ``build`` None means detect; ``setup_args`` go to ``xdub setup``."""

    uv: str
    build: str | None = None
    wheelhouse: Path | None = None
    python: str = PYTHON_VERSION
    source: Path = SOURCE_ROOT
    lock_dir: Path = locks.LOCK_DIR
    dry_run: bool = False
    run_setup: bool = True
    setup_args: list[str] = field(default_factory=list)
    created_root: Path | None = None
    """The topmost folder of the data path the bootstrap created (recorded for uninstall)."""


def link_mode(cache: Path, target: Path, environ: dict[str, str]) -> str:
    """``$UV_LINK_MODE`` if set; else copy when uv's cache and the environment are on
    different file systems (hardlinks cannot cross them), else uv's default."""
    if environ.get("UV_LINK_MODE"):
        return environ["UV_LINK_MODE"]

    def device(path: Path) -> int:
        while not path.exists():
            path = path.parent
        return path.stat().st_dev

    if device(cache) != device(target):
        return "copy"
    return "clone" if sys.platform == "darwin" else "hardlink"


def torch_mismatch(build: str, found: dict[str, object]) -> str | None:
    """Why the installed torch is not ``build`` (e.g. a CPU torch on a CUDA machine), or None."""
    if build in EXPECTED_CUDA:
        cuda = found.get("cuda")
        if not isinstance(cuda, str) or not cuda.startswith(EXPECTED_CUDA[build]):
            return f"torch {found.get('torch')} has CUDA {cuda}, not {EXPECTED_CUDA[build]}"
    if build == "rocm" and not found.get("hip"):
        return f"torch {found.get('torch')} is not a ROCm build"
    if build == "mps" and not found.get("mps"):
        return f"torch {found.get('torch')} lacks the MPS backend"
    return None


class Installer:
    """One install run: ``steps()`` in order; each step prints what it does."""

    def __init__(
        self,
        request: Request,
        *,
        probe: accelerator.MachineProbe | None = None,
        layout: Layout | None = None,
        run: Run = run_subprocess,
        environ: dict[str, str] | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.request = request
        self.probe = probe or accelerator.MachineProbe.of_this_machine()
        self.layout = layout or Layout.of_this_user(self.probe.system)
        self.run = run
        self.environ = dict(os.environ if environ is None else environ)
        self.say = say
        self.build = ""
        self.lock = Path()
        self.previous = self.layout.current_env()
        self.env_id = ""

    # -- helpers --------------------------------------------------------------------------
    def _uv(self, step: str, *args: str, retry_copy: bool = False) -> str:
        env = {**self.environ, "UV_CACHE_DIR": str(self.layout.uv_cache), "UV_NO_CONFIG": "1"}
        mode = link_mode(self.layout.uv_cache, self.layout.envs, self.environ)
        result = self.run([self.request.uv, *args, "--link-mode", mode], env)
        output = (result.stdout or "") + (result.stderr or "")
        if result.returncode != 0 and retry_copy and mode != "copy":
            if any(sign in output.lower() for sign in LINK_FAILURE_SIGNS):
                self.say(f"  uv could not {mode} from its cache; retrying with copies")
                result = self.run([self.request.uv, *args, "--link-mode", "copy", "--refresh"], env)
                output = (result.stdout or "") + (result.stderr or "")
        if result.returncode != 0:
            raise StepFailed(step, self._uv_reason(output), self._retry_hint())
        return output

    def _uv_reason(self, output: str) -> str:
        lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
        text = " | ".join(lines[-6:]) or "uv failed without a message"
        lowered = text.lower()
        if any(sign in lowered for sign in ("404", "not found", "no such file", "no matching")):
            text += (
                " -- a wheel pinned in the lock is no longer where the lock says (an index that "
                "stopped publishing it, or a wheelhouse without it); nothing was resolved afresh"
            )
        return text

    def _retry_hint(self) -> str:
        kept = (
            f"the previous install ({self.previous}) is untouched and still runs"
            if self.previous
            else "nothing was installed"
        )
        return (
            f"{kept}; fix the cause and run the installer again (add --wheelhouse DIR to install "
            "offline from a folder of the lock's wheels; see docs/install.md)"
        )

    @property
    def venv(self) -> Path:
        return self.layout.venv(self.env_id)

    @property
    def python(self) -> Path:
        return self.layout.venv_script(self.env_id, "python")

    # -- steps ----------------------------------------------------------------------------
    def step_detect(self) -> None:
        if self.request.build:
            self.build = self.request.build
            self.say(f"torch build: {self.build} (chosen with --torch)")
        else:
            detection = accelerator.detect(self.probe)
            self.build = detection.build
            self.say(f"torch build: {self.build} ({detection.reason}; override with --torch)")
        self.env_id = f"{xdub.__version__}-{self.build}-{time.strftime('%Y%m%d-%H%M%S')}"

    def step_lock(self) -> None:
        self.lock = locks.find_lock(
            self.probe.system, self.probe.machine, self.build, self.request.lock_dir
        )
        count = len(locks.read_lock(self.lock))
        self.say(f"lock: {self.lock.name} ({count} packages, each pinned by URL and sha256)")

    def step_venv(self) -> None:
        self.say(f"environment: {self.venv} (Python {self.request.python}, uv-managed)")
        if not self.request.dry_run:
            self.layout.envs.mkdir(parents=True, exist_ok=True)
            self._uv("venv", "venv", "--python", self.request.python, "--quiet", str(self.venv))

    def step_packages(self) -> None:
        base = ["pip", "install", "--python", str(self.python), "--no-build", "--quiet"]
        if self.request.wheelhouse is None:
            self.say(f"packages: from {self.lock.name}'s URLs")
            args = [*base, "-r", str(self.lock)]
        else:
            self.say(f"packages: from the wheelhouse {self.request.wheelhouse} (no index)")
            requirements = self.venv.parent / "requirements.txt"
            args = [
                *base, "--no-deps", "--require-hashes", "--no-index", "--offline",
                "--find-links", str(self.request.wheelhouse), "-r", str(requirements),
            ]  # fmt: skip
            if not self.request.dry_run:
                text = locks.wheelhouse_requirements(locks.read_lock(self.lock))
                requirements.write_text(text, encoding="utf-8")
        if not self.request.dry_run:
            self._uv("packages", *args, retry_copy=True)

    def step_xdub(self) -> None:
        source = self.venv.parent / "src"
        self.say(f"xdub {xdub.__version__}: {self.request.source} copied to {source}")
        if self.request.dry_run:
            return
        source.mkdir(parents=True)
        for part in SOURCE_PARTS:
            origin = self.request.source / part
            if origin.is_dir():
                shutil.copytree(origin, source / part, ignore=_IGNORED)
            else:
                shutil.copy2(origin, source / part)
        self._uv(
            "xdub", "pip", "install", "--python", str(self.python), "--quiet", "--no-deps",
            "--no-build-isolation", "--no-index", "--offline", "-e", str(source),
        )  # fmt: skip

    def step_check(self) -> None:
        self.say("check: the new environment imports torch and xdub")
        if self.request.dry_run:
            return
        import json

        result = self.run([str(self.python), "-c", CHECK_SCRIPT], self.environ)
        if result.returncode != 0:
            tail = " | ".join(result.stderr.strip().splitlines()[-4:])
            raise StepFailed("check", f"the new environment does not import: {tail}",
                             self._retry_hint())  # fmt: skip
        found = json.loads(result.stdout.strip().splitlines()[-1])
        mismatch = torch_mismatch(self.build, found)
        if mismatch:
            raise StepFailed("check", f"{mismatch} (lock {self.lock.name})", self._retry_hint())
        self.say(f"  torch {found['torch']} (CUDA {found['cuda']}, MPS {found['mps']})")

    def step_switch(self) -> None:
        names = ", ".join(str(self.layout.launcher(name)) for name in LAUNCHERS)
        self.say(f"switch: the launchers ({names}) now run {self.env_id}")
        if self.request.dry_run:
            return
        manifest = Manifest.load(self.layout.manifest)
        if self.request.created_root is not None:
            chain = [self.layout.data, *self.layout.data.parents]
            if self.request.created_root in chain:
                for folder in reversed(chain[: chain.index(self.request.created_root) + 1]):
                    manifest.add("dir", folder)
        manifest.add("tree", self.layout.app)
        manifest.make_dirs(self.layout.launcher_dir)
        for name, script in LAUNCHERS.items():
            path = self.layout.launcher(name)
            path.write_text(self.layout.launcher_text(script), encoding="utf-8", newline="")
            path.chmod(0o755)
            manifest.add("file", path)
        staged = self.layout.current_file.with_name("current.tmp")
        staged.write_text(self.env_id, encoding="utf-8")  # no newline: cmd's `set /p` reads it
        os.replace(staged, self.layout.current_file)
        manifest.save()
        for old in sorted(self.layout.envs.iterdir()):
            if old.name not in (self.env_id, self.previous):
                shutil.rmtree(old, ignore_errors=True)  # keep the previous one for a rollback

    def step_setup(self) -> None:
        argv = [str(self.layout.launcher("xdub")), "setup", *self.request.setup_args]
        if not self.request.run_setup:
            self.say("setup: skipped (--no-setup); run `xdub setup` when ready")
            return
        if self.request.dry_run:
            self.say(f"setup: then {' '.join(argv)} (it has its own --dry-run)")
            return
        self.say(f"setup: {' '.join(argv)}")
        if subprocess.run(argv, check=False).returncode != 0:
            raise StepFailed("setup", "`xdub setup` did not finish",
                             "xdub itself is installed; run `xdub setup` again")  # fmt: skip

    STEPS = ("detect", "lock", "venv", "packages", "xdub", "check", "switch", "setup")

    def install(self) -> str:
        """Run every step; returns the new environment's id."""
        try:
            for number, name in enumerate(self.STEPS, 1):
                self.say(f"[{number}/{len(self.STEPS)}] {name}")
                getattr(self, f"step_{name}")()
        except StepFailed as error:
            if error.step in ("venv", "packages", "xdub", "check") and self.env_id:
                shutil.rmtree(self.venv.parent, ignore_errors=True)
            raise
        return self.env_id


def parse_args(argv: Sequence[str]) -> Request:
    parser = argparse.ArgumentParser(prog="install", description=__doc__.split("\n\n")[0])
    parser.add_argument("--uv", required=True, help="the uv executable")
    parser.add_argument("--torch", choices=accelerator.TORCH_BUILDS, help="default: detected")
    parser.add_argument("--wheelhouse", type=Path, help="install offline from this folder")
    parser.add_argument("--python", default=PYTHON_VERSION, help="default: %(default)s")
    parser.add_argument("--dry-run", action="store_true", help="print the steps, change nothing")
    parser.add_argument("--no-setup", action="store_true", help="do not run `xdub setup` after")
    parser.add_argument("--created-root", type=Path, help=argparse.SUPPRESS)
    args, setup_args = parser.parse_known_args(argv)
    if args.wheelhouse is not None:
        setup_args += ["--wheelhouse", str(args.wheelhouse.resolve())]
    if args.dry_run:
        setup_args.append("--dry-run")
    return Request(
        uv=args.uv, build=args.torch, python=args.python, dry_run=args.dry_run,
        wheelhouse=args.wheelhouse.resolve() if args.wheelhouse else None,
        run_setup=not args.no_setup, setup_args=[a for a in setup_args if a != "--"],
        created_root=args.created_root,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    request = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        env_id = Installer(request).install()
    except XdubError as error:
        print(f"xdub install: error [{error.code}]: {error}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return 2
    print(f"xdub installed ({env_id})" if not request.dry_run else "dry run: nothing changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

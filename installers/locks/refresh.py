"""Compile the lock files: one ``pylock.<os>-<arch>-<build>.toml`` per (OS, torch build).

    python installers/locks/refresh.py              # every target
    python installers/locks/refresh.py linux-x86_64-cu128 windows-x86_64-cpu

Runs ``uv pip compile`` (the uv on PATH, or $UV) for each target with ``--python-platform``
and ``--python-version``, PyPI for everything and, where the build is not PyPI's own,
``--torch-backend`` (PyTorch's wheel index for torch and torchvision). A target that fails keeps
its previous lock and is listed at the end; the exit code is 1 when any failed. Needs network
access to pypi.org and, for the non-PyPI builds, download.pytorch.org.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

LOCK_DIR = Path(__file__).resolve().parent
REPO_ROOT = LOCK_DIR.parents[1]
PYTHON_VERSION = "3.11"
PYPI = "https://pypi.org/simple"


@dataclass(frozen=True)
class Target:
    """One lock: ``name`` is ``<os>-<arch>-<build>``; ``torch_backend`` None means PyPI's torch."""

    name: str
    python_platform: str
    torch_backend: str | None
    macos_min: str | None = None


TARGETS = (
    # PyPI's Linux torch 2.14 is the CUDA 13.0 build (it pulls the nvidia-*-cu13 wheels).
    Target("linux-x86_64-cu130", "x86_64-manylinux_2_28", None),
    Target("linux-x86_64-cu128", "x86_64-manylinux_2_28", "cu128"),
    Target("linux-x86_64-cu126", "x86_64-manylinux_2_28", "cu126"),
    Target("linux-x86_64-cpu", "x86_64-manylinux_2_28", "cpu"),
    # The ROCm version of torch 2.14's wheels: check pytorch.org/get-started when refreshing.
    Target("linux-x86_64-rocm", "x86_64-manylinux_2_28", "rocm7.1"),
    # PyPI's Windows torch is the CPU build; CUDA builds come from PyTorch's index.
    Target("windows-x86_64-cpu", "x86_64-pc-windows-msvc", None),
    Target("windows-x86_64-cu126", "x86_64-pc-windows-msvc", "cu126"),
    Target("windows-x86_64-cu128", "x86_64-pc-windows-msvc", "cu128"),
    Target("windows-x86_64-cu130", "x86_64-pc-windows-msvc", "cu130"),
    # PyPI's macOS arm64 torch has the Metal (MPS) backend; Intel Macs have no torch 2.14.
    Target("darwin-arm64-mps", "aarch64-apple-darwin", None, macos_min="14.0"),
)


def compile_command(uv: str, target: Target, output: Path) -> list[str]:
    command = [
        uv, "pip", "compile", "pyproject.toml", "installers/locks/requirements.in",
        "--extra", "gui", "--python-version", PYTHON_VERSION,
        "--python-platform", target.python_platform, "--generate-hashes",
        "--format", "pylock.toml", "--index-url", PYPI, "--no-build",
        "--output-file", str(output.relative_to(REPO_ROOT)),
    ]  # fmt: skip
    if target.torch_backend is not None:
        command += ["--torch-backend", target.torch_backend]
    return command


def refresh(uv: str, names: list[str]) -> list[str]:
    """Compile the named targets (all when empty); returns the names that failed."""
    unknown = set(names) - {target.name for target in TARGETS}
    if unknown:
        raise SystemExit(f"unknown targets: {', '.join(sorted(unknown))}")
    failed = []
    for target in TARGETS:
        env = {**os.environ, "UV_NO_CONFIG": "1"}  # no user index settings leak into locks
        if names and target.name not in names:
            continue
        output = LOCK_DIR / f"pylock.{target.name}.toml"
        staged = output.with_name(f"pylock.{target.name.replace('.', '_')}staged.toml")
        if target.macos_min:  # torch 2.14's macOS wheels are macosx_14_0_arm64
            env["MACOSX_DEPLOYMENT_TARGET"] = target.macos_min
        result = subprocess.run(
            compile_command(uv, target, staged), cwd=REPO_ROOT, env=env, check=False,
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode == 0:
            text = staged.read_text(encoding="utf-8").replace(staged.name, output.name)
            output.write_text(text, encoding="utf-8")
            print(f"ok      {output.name}")
        else:
            failed.append(target.name)
            reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "?"
            print(f"FAILED  {target.name}: {reason}", file=sys.stderr)
        staged.unlink(missing_ok=True)
    return failed


def main() -> int:
    failed = refresh(os.environ.get("UV", "uv"), sys.argv[1:])
    if failed:
        print(f"kept the previous lock of: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

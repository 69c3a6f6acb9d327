"""Which torch build suits this machine: NVIDIA CUDA by driver version, ROCm, MPS or CPU.

Stdlib-only (runs before torch is installed). Every question to the machine goes through a
``MachineProbe``, so tests answer them for any OS and GPU.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xdub.errors import XdubError

TORCH_BUILDS = ("cpu", "cu126", "cu128", "cu130", "rocm", "mps")
"""The builds ``--torch`` accepts; a lock file exists per (OS, build) where that build exists."""

MIN_DRIVER: dict[str, dict[str, tuple[int, ...]]] = {
    # NVIDIA's minimum drivers for each CUDA toolkit (CUDA release notes, table 3): below these
    # the build's kernels do not load. cu126 runs from 525.60 under minor-version compatibility.
    "cu130": {"linux": (580, 65, 6), "windows": (580, 88)},
    "cu128": {"linux": (570, 26), "windows": (570, 65)},
    "cu126": {"linux": (525, 60, 13), "windows": (528, 33)},
}
CU130_MIN_COMPUTE = (7, 5)
"""CUDA 13 dropped Maxwell, Pascal and Volta (compute capability below 7.5)."""
CU126_MAX_COMPUTE = (9, 0)
"""cu126 wheels carry no Blackwell kernels (compute capability 10.0 and 12.0 need cu128+)."""


@dataclass(frozen=True)
class MachineProbe:
    """The answers detection needs: ``system`` ('linux'|'darwin'|'windows'), ``machine``
    ('x86_64'|'arm64'...), ``run(argv)`` (stdout, or None when the program is missing or
    fails), ``read(path)`` (a file's text or None) and ``exists(path)``."""

    system: str
    machine: str
    run: Callable[[list[str]], str | None]
    read: Callable[[str], str | None]
    exists: Callable[[str], bool]

    @classmethod
    def of_this_machine(cls) -> MachineProbe:
        machine = platform.machine().lower()
        return cls(
            system=platform.system().lower(),
            machine={"amd64": "x86_64", "aarch64": "arm64"}.get(machine, machine),
            run=run_quietly,
            read=_read,
            exists=lambda path: Path(path).exists(),
        )


def run_quietly(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


@dataclass(frozen=True)
class Detection:
    """The chosen build and why (printed by the installer)."""

    build: str
    reason: str


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip().split(".") if part.isdigit())


def nvidia_gpus(
    probe: MachineProbe,
) -> list[tuple[tuple[int, ...], tuple[int, ...], str, str]]:
    """(driver version, compute capability or (), name, driver as printed) per NVIDIA GPU.

    Asks ``nvidia-smi``; drivers before 510 reject the ``compute_cap`` field, so it asks again
    without it; a Linux driver without ``nvidia-smi`` on PATH still shows in /proc.
    """
    for fields in ("driver_version,compute_cap,name", "driver_version,name"):
        out = probe.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"])
        gpus = []
        for line in (out or "").splitlines():
            values = [value.strip() for value in line.split(",", fields.count(","))]
            if len(values) == fields.count(",") + 1 and _version(values[0]):
                compute = _version(values[1]) if len(values) == 3 else ()
                gpus.append((_version(values[0]), compute, values[-1], values[0]))
        if gpus:
            return gpus
    proc = probe.read("/proc/driver/nvidia/version") if probe.system == "linux" else None
    match = re.search(r"Kernel Module(?: for \w+)?\s+(\d+(?:\.\d+)+)", proc or "")
    return [(_version(match.group(1)), (), "NVIDIA GPU", match.group(1))] if match else []


def cuda_build(driver: tuple[int, ...], compute: tuple[int, ...], system: str) -> str | None:
    """The newest CUDA build this driver and GPU run, or None (driver too old)."""
    key = "windows" if system == "windows" else "linux"
    for build in ("cu130", "cu128", "cu126"):
        if driver < MIN_DRIVER[build][key]:
            continue
        if build == "cu130" and compute and compute < CU130_MIN_COMPUTE:
            continue
        if build == "cu126" and compute and compute > CU126_MAX_COMPUTE:
            return None
        return build
    return None


def _has_rocm(probe: MachineProbe) -> bool:
    return probe.exists("/dev/kfd") and (
        probe.exists("/opt/rocm") or probe.run(["rocminfo"]) is not None
    )


def detect(probe: MachineProbe) -> Detection:
    """The torch build for this machine: CUDA (by driver), ROCm (Linux), MPS (Apple) or CPU."""
    if probe.system == "darwin":
        if probe.machine == "arm64":
            return Detection("mps", "Apple silicon: PyTorch's Metal (MPS) build")
        raise XdubError(
            "Intel Macs have no current PyTorch build",
            code="setup_failed",
            hint="xdub needs an Apple silicon Mac, or Linux/Windows with a GPU",
        )
    gpus = nvidia_gpus(probe)
    if gpus:
        driver, compute, name, driver_text = min(gpus)
        build = cuda_build(driver, compute, probe.system)
        if build is not None:
            return Detection(build, f"{name}, driver {driver_text}")
        minimum = ".".join(
            map(str, MIN_DRIVER["cu128"]["windows" if probe.system == "windows" else "linux"])
        )
        return Detection(
            "cpu",
            f"{name} found, but driver {driver_text} is too old for this GPU's CUDA "
            f"builds: update the driver to {minimum} or newer and install again (CPU for now)",
        )
    if probe.system == "linux" and _has_rocm(probe):
        return Detection("rocm", "AMD GPU with ROCm (/dev/kfd)")
    return Detection("cpu", "no NVIDIA or AMD GPU found: CPU (slow; fine for trying it out)")

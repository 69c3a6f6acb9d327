"""Small real filesystems for disk-full tests: a tmpfs of a few MB mounted by the test (needs
root or CAP_SYS_ADMIN), filled up to a chosen free space."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

FILLER = "filler.bin"


@contextmanager
def small_filesystem(folder: Path, size_mb: int = 4) -> Iterator[Path]:
    """Mount a ``size_mb`` tmpfs on ``folder`` for the block; skip, saying why, where that
    is not allowed (the RLIMIT_FSIZE tests cover EFBIG without a mount)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); run as root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave_bytes: int) -> Path:
    """Write a filler file so that about ``leave_bytes`` stay free in ``folder``."""
    filler = folder / FILLER
    free = shutil.disk_usage(folder).free
    with open(filler, "ab") as stream:
        stream.write(b"\0" * max(0, free - leave_bytes))
    assert shutil.disk_usage(folder).free <= leave_bytes + 8192
    return filler

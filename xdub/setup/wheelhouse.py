"""Make a wheelhouse on a connected machine for an offline install (``--wheelhouse DIR``).

    python -m xdub.setup.wheelhouse DIR --lock installers/locks/pylock.windows-x86_64-cpu.toml
        [--reuse FOLDER ...]

Stdlib-only, so any Python 3.11 runs it from the source folder. Every wheel the lock names is
fetched from its URL (or copied from a ``--reuse`` folder that has a file of that name and
hash) and checked against the lock's sha256. The Blender extension's pyzmq wheels go in the same
folder with ``xdub plugins build blender --wheel-cache DIR``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from xdub.errors import XdubError
from xdub.setup.locks import LockedWheel, read_lock

CHUNK_BYTES = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(wheel: LockedWheel, target: Path, reuse: Sequence[Path]) -> str:
    for folder in reuse:
        candidate = folder / wheel.filename
        if candidate.is_file() and sha256_of(candidate) == wheel.sha256:
            try:
                os.link(candidate, target)  # same file system: no second copy
            except OSError:
                shutil.copyfile(candidate, target)
            return "copied"
    staged = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(wheel.url, timeout=60) as response, open(staged, "wb") as out:
            shutil.copyfileobj(response, out, CHUNK_BYTES)
    except OSError as error:
        staged.unlink(missing_ok=True)
        raise XdubError(
            f"cannot download {wheel.url}: {error}",
            code="setup_failed",
            hint="the index may have stopped publishing it; refresh the lock or --reuse a folder",
        ) from error
    if sha256_of(staged) != wheel.sha256:
        staged.unlink()
        raise XdubError(f"{wheel.filename} does not match the lock's sha256", code="setup_failed")
    staged.replace(target)
    return "downloaded"


def make_wheelhouse(lock: Path, dest: Path, reuse: Sequence[Path] = ()) -> list[Path]:
    """Put every wheel of ``lock`` into ``dest`` (files already there and matching are kept)."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for package in read_lock(lock):
        for wheel in package.wheels:
            target = dest / wheel.filename
            if target.is_file() and sha256_of(target) == wheel.sha256:
                how = "present"
            else:
                how = _fetch(wheel, target, reuse)
            print(f"{how:10} {wheel.filename}")
            written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xdub.setup.wheelhouse", description=__doc__)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--lock", type=Path, required=True)
    parser.add_argument("--reuse", type=Path, action="append", default=[])
    args = parser.parse_args(argv)
    try:
        make_wheelhouse(args.lock, args.dest, args.reuse)
    except XdubError as error:
        print(f"error [{error.code}]: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

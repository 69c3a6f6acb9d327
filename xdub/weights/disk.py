"""Bytes on disk of model files: finished files, partial downloads, removal.

A download writes ``<file>.incomplete`` (``PARTIAL_SUFFIX``) beside its target: for a file
component that is a sibling of the component's path, for a folder component a file inside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from xdub.weights.sources import PARTIAL_SUFFIX


def file_bytes(path: Path) -> int:
    """Size of the file at ``path``; 0 when there is none."""
    return path.stat().st_size if path.is_file() else 0


def finished_bytes(path: Path) -> int:
    """Bytes of a file, or of every finished file under a folder (partial files excluded)."""
    if path.is_dir():
        return sum(
            item.stat().st_size
            for item in path.rglob("*")
            if item.is_file() and not item.name.endswith(PARTIAL_SUFFIX)
        )
    return file_bytes(path)


def bytes_at(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (partial files included)."""
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return file_bytes(path)


def partial_path(target: Path) -> Path:
    """Where the download of ``target`` is kept until it is complete."""
    return target.with_name(target.name + PARTIAL_SUFFIX)


def partial_files(root: Path, relative_path: str) -> list[Path]:
    """Partial downloads of the component at ``relative_path`` (a trailing ``/``: a folder)."""
    path = root / relative_path.rstrip("/")
    if relative_path.endswith("/"):
        return sorted(path.rglob(f"*{PARTIAL_SUFFIX}")) if path.is_dir() else []
    partial = partial_path(path)
    return [partial] if partial.is_file() else []


def remove(path: Path) -> int:
    """Delete the file or folder at ``path`` (if any); returns the bytes freed."""
    freed = bytes_at(path)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    return freed


def prune_empty_parents(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents up to (not including) ``root`` while they are empty."""
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent

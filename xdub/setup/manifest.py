"""The install manifest: exactly what the installer and ``xdub setup`` added, in order.

Stdlib-only. ``xdub setup --uninstall`` undoes the entries newest first, so the machine ends
as it was: files and folders the installer created go, folders that existed stay.

Entry kinds: ``file`` (remove it), ``tree`` (remove the folder and all in it), ``dir`` (a folder
that did not exist: remove it when empty), ``service`` (unregister the login service),
``resolve`` (the Resolve scripts of one Fusion root) and ``blender`` (the extension in one
Blender). Each entry is a JSON object with ``kind``, ``path`` and kind-specific fields.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

VERSION = 1


class Manifest:
    """The entries of ``path`` (empty when it does not exist yet)."""

    def __init__(self, path: Path, entries: list[dict[str, Any]] | None = None) -> None:
        self.path = path
        self.entries: list[dict[str, Any]] = entries or []

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.is_file():
            return cls(path)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, list(data.get("entries", [])))

    def save(self) -> None:
        self.make_dirs(self.path.parent)
        staged = self.path.with_name(self.path.name + ".tmp")
        staged.write_text(json.dumps({"version": VERSION, "entries": self.entries}, indent=1))
        os.replace(staged, self.path)

    def has(self, kind: str, path: Path | str) -> bool:
        return any(e["kind"] == kind and e["path"] == str(path) for e in self.entries)

    def add(self, kind: str, path: Path | str, **detail: Any) -> None:
        """Record an addition once (a repeated setup adds nothing new)."""
        if not self.has(kind, path):
            self.entries.append({"kind": kind, "path": str(path), **detail})

    def remove(self, entry: dict[str, Any]) -> None:
        self.entries.remove(entry)

    def make_dirs(self, folder: Path) -> None:
        """``mkdir -p`` that records each folder it creates as a ``dir`` entry."""
        missing = []
        for candidate in (folder, *folder.parents):
            if candidate.exists():
                break
            missing.append(candidate)
        for candidate in reversed(missing):
            candidate.mkdir()
            self.add("dir", candidate)

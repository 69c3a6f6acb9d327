"""Counting how often the media code opens, seeks and decodes a file (real PyAV underneath)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest


class ReadCounter:
    """Per file path read by ``av.open``: ``opens``, ``seeks`` and video ``frames`` decoded
    through ``container.decode`` (whole passes; ``probe``'s first-frame peek is not one)."""

    def __init__(self) -> None:
        self.opens: Counter[Path] = Counter()
        self.seeks: Counter[Path] = Counter()
        self.frames: Counter[Path] = Counter()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> ReadCounter:
        real_open = av.open

        def counting_open(file: Any, mode: str = "r", **kwargs: Any) -> Any:
            container = real_open(file, mode, **kwargs)
            if mode != "r":
                return container
            path = Path(str(file)).resolve()
            self.opens[path] += 1
            return _CountedContainer(container, self, path)

        monkeypatch.setattr(av, "open", counting_open)
        return self


class _CountedContainer:
    def __init__(self, container: Any, counter: ReadCounter, path: Path) -> None:
        self._container, self._counter, self._path = container, counter, path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def seek(self, *args: Any, **kwargs: Any) -> Any:
        self._counter.seeks[self._path] += 1
        return self._container.seek(*args, **kwargs)

    def decode(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for frame in self._container.decode(*args, **kwargs):
            if isinstance(frame, av.VideoFrame):
                self._counter.frames[self._path] += 1
            yield frame

"""``Problem``: one thing wrong with a model file, as verification and loading report it.

Torch-free, so that the model manager can list and report without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a model file; ``file`` is relative to the model folder."""

    file: str
    message: str
    tensor: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        subject = f"{self.tensor} " if self.tensor else ""
        return f"{self.file}: {subject}{self.message}"

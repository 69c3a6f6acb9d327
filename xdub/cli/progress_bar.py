"""A terminal progress bar for pipeline ``Progress`` events (one line, redrawn in place)."""

from __future__ import annotations

import sys
from typing import TextIO

from xdub.protocol.records import Progress

BAR_WIDTH = 30


def format_progress(progress: Progress) -> str:
    """``[#####-----]  42% denoise window 2/5 step 7/30, ETA 1:23`` for one event."""
    filled = round(progress.fraction * BAR_WIDTH)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    detail = progress.stage.value.replace("_", " ")
    if progress.num_clips:
        detail += f" window {progress.clip}/{progress.num_clips}"
    if progress.num_steps:
        detail += f" step {progress.step}/{progress.num_steps}"
    eta = ""
    if progress.eta_s is not None:
        minutes, seconds = divmod(int(progress.eta_s), 60)
        eta = f", ETA {minutes}:{seconds:02d}"
    return f"[{bar}] {progress.fraction:4.0%} {detail}{eta}"


class ProgressBar:
    """Redraws on a terminal; writes one line per change of stage or window otherwise."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.is_tty = stream.isatty()
        self._last_key: tuple[str, int] | None = None

    def __call__(self, progress: Progress) -> None:
        line = format_progress(progress)
        if self.is_tty:
            self.stream.write("\r" + line.ljust(100))
            self.stream.flush()
            return
        key = (progress.stage.value, progress.clip)
        if key != self._last_key:
            self._last_key = key
            self.stream.write(line + "\n")

    def close(self) -> None:
        if self.is_tty:
            self.stream.write("\n")

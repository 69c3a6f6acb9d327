"""Decoded frames by index in one file of the work folder, so a take decodes its source once.

A take's landmark pass must see the whole clip before the first crop can be cut, so the frames
it decodes are kept here (upright RGB, one fixed-size slot per frame) and the crops and
paste-back read them back instead of decoding the source a second time. The slots are written
and read with ``pwrite``/``preadv``, a frame at a time: the page cache, not the process, holds
them, so RAM stays flat in clip length. Every slot is allocated when the spool is made, so a
disk that fills later cannot cut a frame short. The file is deleted on ``close`` (and when a
``with`` block is left, by an error or a cancel too).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import numpy as np

from xdub.protocol.precheck import reserve_file


def spool_bytes(num_frames: int, height: int, width: int) -> int:
    """Disk a spool of ``num_frames`` ``(height, width, 3)`` frames takes."""
    return num_frames * height * width * 3


class FrameSpool:
    """``num_frames`` slots of one ``(height, width, 3)`` uint8 frame each, in the file ``path``.

    ``what`` names the frames in a ``disk_full`` error. One thread may write slots while
    another reads others.
    """

    def __init__(
        self, path: Path, num_frames: int, height: int, width: int, what: str = "the frames"
    ) -> None:
        if num_frames < 1:
            raise ValueError(f"a frame spool needs at least one slot, got {num_frames}")
        self.path = Path(path)
        self.num_frames = num_frames
        self.shape = (height, width, 3)
        self.frame_bytes = height * width * 3
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            reserve_file(self._fd, self.path, spool_bytes(num_frames, height, width), what)
        except BaseException:
            self.close()
            raise

    def write(self, index: int, frame: np.ndarray) -> None:
        """Keep ``frame`` in slot ``index``."""
        if frame.shape != self.shape or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype} is not {self.shape} uint8")
        data = np.ascontiguousarray(frame).reshape(-1).data
        if os.pwrite(self._fd, data, self._offset(index)) != self.frame_bytes:
            raise OSError(f"short write to {self.path}")

    def read(self, index: int) -> np.ndarray:
        """The frame in slot ``index`` (a new array)."""
        frame = np.empty(self.shape, dtype=np.uint8)
        if os.preadv(self._fd, [frame.reshape(-1).data], self._offset(index)) != self.frame_bytes:
            raise OSError(f"short read from {self.path}")
        return frame

    def close(self) -> None:
        """Close and delete the file (again: nothing)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> FrameSpool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _offset(self, index: int) -> int:
        if not 0 <= index < self.num_frames:
            raise IndexError(f"frame {index} is outside the spool's {self.num_frames}")
        return index * self.frame_bytes

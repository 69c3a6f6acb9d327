"""Decoded frames waiting for a later stage, in a fixed-size file so RAM stays flat.

The take's one source decode makes the crops of a window before it denoises, but the same
frames are pasted only after it (and, when stages overlap, a window later). Between the two
they wait here: ``capacity`` slots of one upright RGB frame each in a file of the work folder,
written and read with ``pwrite``/``preadv`` (the page cache, not the process, holds them), and
reused in order. One thread may ``push`` while another ``pop``s.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from xdub.protocol.precheck import reserve_file


class FrameRing:
    """A first-in first-out queue of ``(height, width, 3)`` uint8 frames in the file ``path``."""

    def __init__(self, path: Path, capacity: int, height: int, width: int) -> None:
        if capacity < 1:
            raise ValueError(f"a frame ring needs at least one slot, got {capacity}")
        self.path = Path(path)
        self.capacity = capacity
        self.shape = (height, width, 3)
        self.frame_bytes = height * width * 3
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:  # every slot allocated now: a disk that fills later cannot cut a frame short
            reserve_file(self._fd, self.path, capacity * self.frame_bytes, "the frames in flight")
        except BaseException:
            self.close()
            raise
        self._lock = threading.Lock()
        self._pushed = 0
        self._popped = 0

    def __len__(self) -> int:
        """Frames pushed and not yet popped."""
        with self._lock:
            return self._pushed - self._popped

    def push(self, frame: np.ndarray) -> None:
        """Append ``frame``; a full ring is a planning error (``RuntimeError``)."""
        if frame.shape != self.shape or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype} is not {self.shape} uint8")
        with self._lock:
            index = self._pushed
            if index - self._popped >= self.capacity:
                raise RuntimeError(f"the frame ring of {self.capacity} frames is full")
        data = np.ascontiguousarray(frame).reshape(-1).data
        offset = (index % self.capacity) * self.frame_bytes
        if os.pwrite(self._fd, data, offset) != self.frame_bytes:
            raise OSError(f"short write to {self.path}")
        with self._lock:
            self._pushed += 1

    def pop(self) -> np.ndarray:
        """The oldest frame (its slot is free again afterwards)."""
        with self._lock:
            if self._popped >= self._pushed:
                raise RuntimeError("the frame ring is empty")
            index = self._popped
        frame = np.empty(self.shape, dtype=np.uint8)
        offset = (index % self.capacity) * self.frame_bytes
        if os.preadv(self._fd, [frame.reshape(-1).data], offset) != self.frame_bytes:
            raise OSError(f"short read from {self.path}")
        with self._lock:
            self._popped += 1
        return frame

    def close(self) -> None:
        """Close and delete the file."""
        os.close(self._fd)
        self.path.unlink(missing_ok=True)

"""Decoded frames waiting for a later stage, in a fixed-size file so RAM stays flat.

When the take decodes its source twice (no room for a ``FrameSpool``, or no landmark pass),
its last decode makes the crops of a window before it denoises, but the same frames are
pasted only after it (and, when stages overlap, a window later). Between the two they wait
here: ``capacity`` slots of a ``FrameSpool`` (one upright RGB frame each, in a file of the
work folder), reused in order. One thread may ``push`` while another ``pop``s.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from xdub.media.frame_spool import FrameSpool


class FrameRing:
    """A first-in first-out queue of ``(height, width, 3)`` uint8 frames in the file ``path``."""

    def __init__(self, path: Path, capacity: int, height: int, width: int) -> None:
        if capacity < 1:
            raise ValueError(f"a frame ring needs at least one slot, got {capacity}")
        self._slots = FrameSpool(path, capacity, height, width, "the frames in flight")
        self.path = self._slots.path
        self.capacity = capacity
        self.shape = self._slots.shape
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
        self._slots.write(index % self.capacity, frame)
        with self._lock:
            self._pushed += 1

    def pop(self) -> np.ndarray:
        """The oldest frame (its slot is free again afterwards)."""
        with self._lock:
            if self._popped >= self._pushed:
                raise RuntimeError("the frame ring is empty")
            index = self._popped
        frame = self._slots.read(index % self.capacity)
        with self._lock:
            self._popped += 1
        return frame

    def close(self) -> None:
        """Close and delete the file."""
        self._slots.close()

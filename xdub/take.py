"""Paste the generated faces back into every original frame and write the take.

Each source frame gets the generated (25 fps) face covering its timestamp, so the take keeps
the clip's own frame rate, timestamps, size and length. The source frames come from the take's
one source decode (``xdub.take_source``: its ``FrameSpool``, or a second decode through a
``FrameRing``); the faces come
a window at a time, in order, as each window's frames become final, and are dropped once no
later source frame can use them, so memory stays bounded for any length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction

import numpy as np

from xdub.face.paste import paste_face
from xdub.media.encode import TakeWriter

VFR_TIME_BASE = Fraction(1, 90000)
"""Clock for variable-frame-rate takes: fine enough to keep every source timestamp."""


class _FaceQueue:
    """Generated faces by model-frame index, pulled from ``chunks`` on demand."""

    def __init__(self, chunks: Iterator[tuple[int, np.ndarray]]) -> None:
        self._chunks = chunks
        self._first = 0
        self._faces = np.zeros((0, 0, 0, 3), dtype=np.uint8)

    def face(self, index: int) -> np.ndarray:
        while index >= self._first + len(self._faces):
            first, faces = next(self._chunks)
            self._first, self._faces = first, faces
        if index < self._first:
            raise ValueError(f"face {index} was already dropped (faces must be asked in order)")
        return self._faces[index - self._first]


class TakePaster:
    """Pastes faces into the source frames, in order, and hands them to ``writer``.

    source_frame: take frame ``index`` (asked in order, once each);
    boxes: ``(N, 4)`` crop boxes per model frame; has_face: ``(N,)`` bool, False where the
    source frame passes through untouched; covering: per take frame, its model frame;
    times_s: per take frame, its time since the take's first frame.
    """

    def __init__(
        self,
        writer: TakeWriter,
        source_frame: Callable[[int], np.ndarray],
        *,
        boxes: np.ndarray,
        has_face: np.ndarray,
        covering: list[int],
        times_s: np.ndarray,
        on_frame: Callable[[int], None] | None = None,
    ) -> None:
        self._writer = writer
        self._source_frame = source_frame
        self._boxes, self._has_face = boxes, has_face
        self._covering, self._times_s = covering, times_s
        self._on_frame = on_frame
        self.num_pasted = 0

    def paste_until(self, stop: int, faces: Iterator[tuple[int, np.ndarray]]) -> None:
        """Paste and write take frames up to ``stop``; ``faces``: ``(first model frame,
        (t, 512, 512, 3) uint8)`` blended chunks in order, holding every face they need."""
        queue = _FaceQueue(faces)
        while self.num_pasted < stop:
            index = self.num_pasted
            model_index = self._covering[index]
            face = queue.face(model_index)
            picture = self._source_frame(index)
            if self._has_face[model_index]:
                picture = paste_face(picture, face, self._boxes[model_index])
            self._writer.write(picture, pts_s=float(self._times_s[index]))
            self.num_pasted += 1
            if self._on_frame is not None:
                self._on_frame(self.num_pasted)

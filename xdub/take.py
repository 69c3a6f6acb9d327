"""Paste the generated faces back into every original frame and write the take.

The source is decoded once more, front to back; each source frame gets the generated
(25 fps) face covering its timestamp, so the take keeps the clip's own frame rate, timestamps,
size and length. Generated faces arrive in order, a chunk at a time, and are dropped once no
later source frame can use them, so memory stays bounded for any length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from xdub.face.paste import paste_face
from xdub.media.codecs import TakeSettings
from xdub.media.decode import iter_frames
from xdub.media.encode import TakeAudio, TakeWriter
from xdub.media.probe import MediaInfo

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


def write_take(
    source: Path,
    output: Path,
    *,
    info: MediaInfo,
    faces: Iterator[tuple[int, np.ndarray]],
    boxes: np.ndarray,
    has_face: np.ndarray,
    first_frame: int,
    covering: list[int],
    audio: TakeAudio,
    settings: TakeSettings,
    on_frame: Callable[[int], None] | None = None,
) -> int:
    """Write the take of ``source`` to ``output``; returns the number of frames written.

    faces: ``(first model frame, (t, 512, 512, 3) uint8)`` chunks in order, already blended.
    boxes: ``(N, 4)`` crop boxes per model frame; has_face: ``(N,)`` bool, False where the
    source frame passes through untouched; ``first_frame``: file index of the take's first
    frame (``info`` is the take's format: its frame count, duration and timecode);
    covering: per take frame, its model frame.
    """
    queue = _FaceQueue(faces)
    writer = TakeWriter(
        output,
        width=info.display_width,
        height=info.display_height,
        fps=info.fps,
        time_base=VFR_TIME_BASE if info.is_vfr else None,
        duration_s=info.duration_s,
        timecode=info.timecode,
        audio=audio,
        settings=settings,
    )
    start_s: float | None = None
    with writer:
        for frame in iter_frames(source):
            index = frame.index - first_frame
            if index < 0:
                continue
            if index >= info.num_frames:
                break
            start_s = frame.time_s if start_s is None else start_s
            model_index = covering[index]
            face = queue.face(model_index)
            picture = frame.rgb
            if has_face[model_index]:
                picture = paste_face(frame.rgb, face, boxes[model_index])
            writer.write(picture, pts_s=frame.time_s - start_s)
            if on_frame is not None:
                on_frame(index + 1)
    return writer.num_frames

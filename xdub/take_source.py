"""The source frames of a take: the landmark pass, and the one decode for crops and paste-back.

``model_frames`` feeds the face tracker (the model's 25 fps frames, converted to RGB only where
used). ``SourcePass`` is the take's other and last decode of the source: it runs a window ahead
of the denoising, cuts each model frame's 512 px crop into the ``CropStore`` and keeps every
dubbed frame in a ``FrameRing`` until ``TakePaster`` pastes the generated face into it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from xdub.errors import MediaError
from xdub.face.crop import crop_face
from xdub.face.crop_store import CropStore
from xdub.media.decode import Frame, iter_frames
from xdub.media.frame_ring import FrameRing
from xdub.take_plan import TakePlan

CHECK_EVERY_FRAMES = 25
"""Frames decoded between two cancellation checks."""


def model_frames(plan: TakePlan) -> Iterator[np.ndarray]:
    """Upright source frames at the model's 25 fps, by timestamp (a frame may repeat or drop)."""
    wanted = iter(enumerate(plan.model_sources))
    index, source = next(wanted)
    for frame in iter_frames(plan.path):
        while source == frame.index:
            yield frame.rgb
            step = next(wanted, None)
            if step is None:
                return
            index, source = step
    raise _truncated(plan, f"model frame {index} of {plan.num_model_frames}")


class SourcePass:
    """Decodes the dubbed frames once, on demand: crops into ``crops``, frames into ``ring``.

    ``boxes``: the crop track (one box per model frame), cut to ``crop_size`` px squares;
    ``check`` is called every
    ``CHECK_EVERY_FRAMES`` frames and may raise to stop (cancellation).
    """

    def __init__(
        self,
        plan: TakePlan,
        boxes: np.ndarray,
        crops: CropStore,
        crop_size: int,
        ring: FrameRing,
        check: Callable[[], None],
    ) -> None:
        self.plan = plan
        self._boxes = boxes
        self._crops = crops
        self._crop_size = crop_size
        self._ring = ring
        self._check = check
        self._frames = iter_frames(plan.path)
        self.num_decoded = 0
        """Dubbed frames decoded so far (their crops are made and they wait in the ring)."""
        self._next_model = 0

    def decode_until(self, stop: int) -> None:
        """Decode the dubbed frames before ``stop`` (a take frame index) that are not yet."""
        while self.num_decoded < stop:
            frame = self._next_dubbed_frame()
            self._crop(frame)
            self._ring.push(frame.rgb)
            self.num_decoded += 1
            if self.num_decoded % CHECK_EVERY_FRAMES == 0:
                self._check()

    def close(self) -> None:
        self._frames.close()

    def _next_dubbed_frame(self) -> Frame:
        for frame in self._frames:
            if frame.index >= self.plan.first_frame:
                return frame
        count = self.plan.info.num_frames
        raise _truncated(self.plan, f"dubbed frame {self.num_decoded} of {count}")

    def _crop(self, frame: Frame) -> None:
        sources, size = self.plan.model_sources, self._crop_size
        while self._next_model < len(sources) and sources[self._next_model] == frame.index:
            model_index = self._next_model
            self._crops[model_index] = crop_face(frame.rgb, self._boxes[model_index], size)
            self._next_model += 1


def _truncated(plan: TakePlan, where: str) -> MediaError:
    return MediaError(f"{plan.path}: decoding stopped at {where}", code="truncated_media")

"""The source frames of a take: one decode for landmarks, crops and paste-back where it can.

``model_frames`` is the landmark pass: it feeds the face tracker the model's 25 fps frames.
Given a ``FrameSpool`` (``open_spool``: when the work folder has room) it also converts every
dubbed frame to RGB once and keeps it there, and ``SpoolPass`` then cuts the crops and hands
the paste its frames from the spool: the source is decoded once. Without one, ``SourcePass``
is the take's second and last decode: it runs a window ahead of the denoising, cuts each model
frame's crop into the ``CropStore`` and keeps every dubbed frame in a ``FrameRing`` until
``TakePaster`` pastes the generated face into it. Both give the same frames, so the same take.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from xdub.errors import MediaError
from xdub.face.crop import crop_face
from xdub.face.crop_store import CropStore
from xdub.media.decode import Frame, iter_frames
from xdub.media.frame_ring import FrameRing
from xdub.media.frame_spool import FrameSpool, spool_bytes
from xdub.take_plan import TakePlan

log = logging.getLogger(__name__)

CHECK_EVERY_FRAMES = 25
"""Frames decoded between two cancellation checks."""

SPOOL_MODES = ("auto", "on", "off")
"""``open_spool``'s modes: by free space, always (a full disk is then ``disk_full``), never."""

SPOOL_FREE_SHARE = 0.5
"""``auto`` spools when the spool takes at most this share of the work folder's free space
(the rest is for the crop store, the take and everything else on that drive)."""

SPOOL_NAME = "source.rgb"
"""The spool's file name in the take's work folder."""


def open_spool(plan: TakePlan, folder: Path, mode: str = "auto") -> FrameSpool | None:
    """A spool for every dubbed frame of ``plan`` in ``folder``, or None: the take then
    decodes its source twice (logged). ``mode``: one of ``SPOOL_MODES``."""
    if mode not in SPOOL_MODES:
        raise ValueError(f"spool mode {mode!r} is not one of {', '.join(SPOOL_MODES)}")
    info = plan.info
    size = spool_bytes(info.num_frames, info.display_height, info.display_width)
    if mode == "off":
        return None
    free = shutil.disk_usage(folder).free
    if mode == "auto" and size > free * SPOOL_FREE_SHARE:
        log.info(
            "source spool of %.2f GB would take more than half of the %.2f GB free in %s: "
            "decoding the source twice",
            size / 1e9,
            free / 1e9,
            folder,
        )
        return None
    try:
        spool = FrameSpool(
            folder / SPOOL_NAME,
            info.num_frames,
            info.display_height,
            info.display_width,
            "the decoded source frames",
        )
    except MediaError as error:
        if mode == "on" or error.code != "disk_full":
            raise
        log.info("no room for the source spool (%s): decoding the source twice", error)
        return None
    log.info("source spool: %d frames, %.2f GB in %s", info.num_frames, size / 1e9, folder)
    return spool


def model_frames(plan: TakePlan, spool: FrameSpool | None = None) -> Iterator[np.ndarray]:
    """Upright source frames at the model's 25 fps, by timestamp (a frame may repeat or drop).

    With ``spool``, every dubbed frame is also converted once and written to it (the pass
    then runs to the last dubbed frame, not just the last model frame)."""
    wanted = iter(enumerate(plan.model_sources))
    step = next(wanted, None)
    first, count = plan.first_frame, plan.info.num_frames
    stop = first + count if spool is not None else plan.model_sources[-1] + 1
    frames = iter_frames(plan.path)
    try:
        for frame in frames:
            if spool is not None and frame.index >= first:
                spool.write(frame.index - first, frame.rgb)
            while step is not None and step[1] == frame.index:
                yield frame.rgb
                step = next(wanted, None)
            if frame.index + 1 >= stop:
                return
    finally:
        frames.close()
    if step is not None:
        raise _truncated(plan, f"model frame {step[0]} of {plan.num_model_frames}")
    raise _truncated(plan, f"the spool's last frame, {count - 1} of {count}")


class _Cropper:
    """Cuts the crop of every model frame, in order, from the file frames that show them."""

    def __init__(self, plan: TakePlan, boxes: np.ndarray, crops: CropStore, crop_size: int) -> None:
        self._sources = plan.model_sources
        self._boxes, self._crops, self._crop_size = boxes, crops, crop_size
        self.next_model = 0
        """The first model frame not cropped yet."""

    def cut(self, file_index: int, rgb: np.ndarray) -> None:
        """Crop every model frame that shows file frame ``file_index`` (``rgb``)."""
        sources = self._sources
        while self.next_model < len(sources) and sources[self.next_model] == file_index:
            box = self._boxes[self.next_model]
            self._crops[self.next_model] = crop_face(rgb, box, self._crop_size)
            self.next_model += 1


class SourcePass:
    """Decodes the dubbed frames once, on demand: crops into ``crops``, frames into ``ring``
    (``None``: crops only, for a run that pastes nothing).

    ``boxes``: the crop track (one box per model frame), cut to ``crop_size`` px squares;
    ``check`` is called every ``CHECK_EVERY_FRAMES`` frames and may raise to stop
    (cancellation).
    """

    def __init__(
        self,
        plan: TakePlan,
        boxes: np.ndarray,
        crops: CropStore,
        crop_size: int,
        ring: FrameRing | None,
        check: Callable[[], None],
    ) -> None:
        self.plan = plan
        self._cropper = _Cropper(plan, boxes, crops, crop_size)
        self._ring = ring
        self._check = check
        self._frames = iter_frames(plan.path)
        self.num_decoded = 0
        """Dubbed frames decoded so far (their crops are made and they wait in the ring)."""

    def decode_until(self, stop: int) -> None:
        """Decode the dubbed frames before ``stop`` (a take frame index) that are not yet."""
        while self.num_decoded < stop:
            frame = self._next_dubbed_frame()
            self._cropper.cut(frame.index, frame.rgb)
            if self._ring is not None:
                self._ring.push(frame.rgb)
            self.num_decoded += 1
            if self.num_decoded % CHECK_EVERY_FRAMES == 0:
                self._check()

    def frame(self, _index: int) -> np.ndarray:
        """Take frame ``index`` for the paste (asked in order, once each)."""
        if self._ring is None:
            raise RuntimeError("a crops-only source pass keeps no frames to paste")
        return self._ring.pop()

    def close(self) -> None:
        self._frames.close()

    def _next_dubbed_frame(self) -> Frame:
        for frame in self._frames:
            if frame.index >= self.plan.first_frame:
                return frame
        count = self.plan.info.num_frames
        raise _truncated(self.plan, f"dubbed frame {self.num_decoded} of {count}")


class SpoolPass:
    """``SourcePass`` over a ``FrameSpool`` the landmark pass filled: no decode, the crops
    are cut from the spooled model frames and the paste reads its frames from the spool."""

    def __init__(
        self,
        plan: TakePlan,
        boxes: np.ndarray,
        crops: CropStore,
        crop_size: int,
        spool: FrameSpool,
        check: Callable[[], None],
    ) -> None:
        self.plan = plan
        self._cropper = _Cropper(plan, boxes, crops, crop_size)
        self._spool = spool
        self._check = check
        self._num_read = 0

    def decode_until(self, stop: int) -> None:
        """Cut the crops of the model frames shown by take frames before ``stop``."""
        sources, first, cropper = self.plan.model_sources, self.plan.first_frame, self._cropper
        while cropper.next_model < len(sources) and sources[cropper.next_model] - first < stop:
            index = sources[cropper.next_model] - first
            cropper.cut(index + first, self._spool.read(index))
            self._num_read += 1
            if self._num_read % CHECK_EVERY_FRAMES == 0:
                self._check()

    def frame(self, index: int) -> np.ndarray:
        """Take frame ``index`` for the paste."""
        return self._spool.read(index)

    def close(self) -> None:
        """Nothing to close: the spool's owner closes it."""


def source_pass(
    plan: TakePlan,
    boxes: np.ndarray,
    crops: CropStore,
    crop_size: int,
    frames: FrameRing | FrameSpool | None,
    check: Callable[[], None],
) -> SourcePass | SpoolPass:
    """The crop and paste source of a take: from the spool, else a decode into the ring (or,
    ``None``, a decode for the crops only)."""
    if isinstance(frames, FrameSpool):
        return SpoolPass(plan, boxes, crops, crop_size, frames, check)
    return SourcePass(plan, boxes, crops, crop_size, frames, check)


def _truncated(plan: TakePlan, where: str) -> MediaError:
    return MediaError(f"{plan.path}: decoding stopped at {where}", code="truncated_media")

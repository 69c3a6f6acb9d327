"""The daemon's quality check of a finished take: the cheap metrics of ``xdub.eval``, bounded
in time, never failing the job (a failure is logged and recorded as unavailable).

Runs in the worker right after the take is written, with what the pipeline already has: the
source, the take, the dialogue WAV, the crop box of every model frame, and the loaded
whole-body landmark networks (for the mouth opening of the weight-free sync measure; skipped
for test weights, whose landmarks are noise).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from xdub.eval.evaluate import EvalInputs, evaluate_take
from xdub.eval.mouth import MouthTrack, landmark_track
from xdub.eval.report import TakeReport
from xdub.face.wholebody import WholebodyBackend
from xdub.media.decode import iter_frames
from xdub.protocol.records import PSNR_IDENTICAL_DB, TakeQuality
from xdub.sample.windows import VIDEO_FPS

log = logging.getLogger(__name__)

QUALITY_BUDGET_S = 30.0
"""The whole check stops after this long (the landmark pass gets half of it)."""


def take_quality(
    source: Path,
    take: Path,
    dialogue: Path,
    *,
    crop_boxes: np.ndarray,
    source_first_frame: int = 0,
    estimator: WholebodyBackend | None = None,
    is_test_weights: bool = False,
    budget_s: float = QUALITY_BUDGET_S,
) -> TakeQuality:
    """The take's ``TakeQuality``; any error becomes ``is_available=False`` with its reason."""
    started = time.monotonic()
    try:
        mouth, note = None, ""
        if estimator is not None and is_test_weights:
            # Test weights' landmarks are noise, and their pass costs as much as the face track.
            note = "sync skipped: the face landmarks are test weights"
        elif estimator is not None:
            mouth = _mouth(estimator, take, crop_boxes, started + budget_s / 2)
            note = "" if mouth is not None else "sync skipped: the landmark pass ran out of time"
        remaining_s = max(0.0, budget_s - (time.monotonic() - started))
        inputs = EvalInputs(
            mouth=mouth,
            crop_boxes=crop_boxes,
            dialogue=dialogue,
            time_budget_s=remaining_s,
            source_first_frame=source_first_frame,
        )
        report = evaluate_take(source, take, inputs)
        return quality_of(report, note, time.monotonic() - started)
    except Exception as error:  # the take is written; a failed check must not fail the job
        log.warning("quality check of %s failed", take, exc_info=True)
        return TakeQuality(
            is_available=False,
            note=f"quality check failed: {type(error).__name__}: {error}",
            elapsed_s=time.monotonic() - started,
        )


def _mouth(
    estimator: WholebodyBackend, take: Path, crop_boxes: np.ndarray, deadline: float
) -> MouthTrack | None:
    """The take's mouth from the landmark networks, or None past ``deadline``."""
    boxes: list[np.ndarray] = []
    ran_out = False

    def frames() -> Iterator[np.ndarray]:
        nonlocal ran_out
        for frame in iter_frames(take):
            if time.monotonic() > deadline:
                ran_out = True
                return
            model = min(int(frame.time_s * VIDEO_FPS + 1e-6), len(crop_boxes) - 1)
            boxes.append(crop_boxes[model])
            yield frame.rgb

    track = landmark_track(estimator, frames(), crop_boxes=boxes)
    return None if ran_out else track


def quality_of(report: TakeReport, note: str = "", elapsed_s: float | None = None) -> TakeQuality:
    """The protocol record of a report (PSNR capped at ``PSNR_IDENTICAL_DB``)."""
    sync = report.sync
    notes = [note] if note else []
    psnr = report.preservation.psnr_db
    drop = report.seams.psnr_drop_db
    return TakeQuality(
        is_available=True,
        note="; ".join(notes),
        sync_offset_frames=sync.offset_frames if sync else None,
        sync_confidence=sync.confidence if sync else None,
        sync_is_reliable=bool(sync and sync.is_reliable),
        psnr_db=min(psnr, PSNR_IDENTICAL_DB),
        ssim=report.preservation.ssim,
        flicker=report.preservation.flicker,
        seam_psnr_drop_db=None if drop is None or math.isinf(drop) else drop,
        flags=tuple(report.flags()),
        elapsed_s=report.elapsed_s if elapsed_s is None else elapsed_s,
        is_partial=report.is_partial,
    )

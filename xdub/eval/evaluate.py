"""``evaluate_take``: decode a take and its source once, side by side, and run the metrics.

The pass is streaming (one frame pair in memory, plus small per-frame numbers, a few worst
frame thumbnails and, only when the networks are loaded, 224 px face crops for LSE/CSIM). A
time budget stops the pass early and marks the report partial, so the daemon's check after a
take is bounded.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from xdub.errors import MediaError
from xdub.eval.identity import IResNet, csim
from xdub.eval.mfcc import mfcc
from xdub.eval.mouth import MouthTrack, crop_mouth_boxes
from xdub.eval.preservation import PreservationMeter, psnr_db
from xdub.eval.report import (
    LseReport,
    PreservationReport,
    Series,
    SyncReport,
    TakeReport,
    Thumbnail,
)
from xdub.eval.seams import near_seam, seam_starts, summarize_seams
from xdub.eval.sync import estimate_offset, speech_envelope, sync_over_time
from xdub.eval.syncnet import LIP_SIZE_PX, SyncNet, lse
from xdub.media.audio import MODEL_SAMPLE_RATE_HZ, load_audio
from xdub.media.decode import iter_frames
from xdub.sample.windows import VIDEO_FPS

log = logging.getLogger(__name__)

NUM_WORST_FRAMES = 4
THUMBNAIL_HEIGHT_PX = 96
CROP_SCALE = 1.45
"""Face crops for LSE/CSIM: the mouth track's face square, as X-Dub's crop box scale."""


@dataclass(frozen=True)
class EvalInputs:
    """What to measure with. ``mouth``: the take's mouth per frame (``xdub.eval.mouth``), or
    None (no sync; preservation over ``crop_boxes``' mouth region or the whole frame);
    ``crop_boxes (N, 4)``: X-Dub's crop box per 25 fps model frame (``DubResult.face_boxes``);
    ``dialogue``: the audio to sync against (default: the take's own track)."""

    mouth: MouthTrack | None = None
    crop_boxes: np.ndarray | None = None
    dialogue: Path | None = None
    syncnet: SyncNet | None = None
    arcface: IResNet | None = None
    time_budget_s: float | None = None
    source_first_frame: int = 0
    """The source frame the take's first frame was dubbed from (a frame-range job)."""


def _pairs(
    source: Path, take: Path, first: int
) -> Iterator[tuple[int, float, np.ndarray, np.ndarray]]:
    for s, t in zip(islice(iter_frames(source), first, None), iter_frames(take), strict=False):
        yield t.index, t.time_s, s.rgb, t.rgb


def _model_index(time_s: float) -> int:
    return int(np.floor(time_s * VIDEO_FPS + 1e-6))


def evaluate_take(source: Path, take: Path, inputs: EvalInputs | None = None) -> TakeReport:
    """Measure ``take`` against ``source`` (the same frames, as a take keeps its clip's rate,
    size and timestamps). Raises ``MediaError`` when they differ in size or either is empty."""
    inputs = inputs or EvalInputs()
    started = time.monotonic()
    notes: list[str] = []
    meter = PreservationMeter()
    times, mses, ssims, flickers = [], [], [], []
    worst: list[tuple[float, int, Thumbnail]] = []
    face_crops: list[tuple[np.ndarray, np.ndarray]] = []
    wants_crops = (inputs.syncnet is not None or inputs.arcface is not None) and inputs.mouth
    region_source = "whole frame (no mouth region known)"
    if _uses_landmark_region(inputs) and inputs.mouth is not None:
        region_source = f"mouth from {inputs.mouth.source}"
    elif inputs.crop_boxes is not None:
        region_source = "mouth part of the crop box"
    is_partial = False
    for index, time_s, source_rgb, take_rgb in _pairs(source, take, inputs.source_first_frame):
        if source_rgb.shape != take_rgb.shape:
            raise MediaError(
                f"{take} is {take_rgb.shape[1]}x{take_rgb.shape[0]} but {source} is "
                f"{source_rgb.shape[1]}x{source_rgb.shape[0]}",
                hint="compare a take with the clip it was dubbed from",
            )
        box = _mouth_box(inputs, index, time_s)
        frame = meter.measure(source_rgb, take_rgb, box)
        times.append(time_s)
        mses.append(frame.mse)
        ssims.append(frame.ssim)
        flickers.append(frame.flicker)
        _keep_worst(worst, index, time_s, frame.mse, source_rgb, take_rgb)
        if wants_crops and inputs.mouth is not None and index < len(inputs.mouth.face_boxes):
            face_crops.append(_crops(source_rgb, take_rgb, inputs.mouth.face_boxes[index]))
        if inputs.time_budget_s is not None and time.monotonic() - started > inputs.time_budget_s:
            is_partial = True
            notes.append(
                f"time budget {inputs.time_budget_s:.0f} s reached after {len(times)} frames"
            )
            break
    if not times:
        raise MediaError(f"{take} or {source} has no video frames", code="no_frames")
    times_s = np.asarray(times)
    mse, ssim, flicker = np.asarray(mses), np.asarray(ssims), np.asarray(flickers)
    fps = (
        (len(times_s) - 1) / times_s[-1]
        if len(times_s) > 1 and times_s[-1] > 0
        else float(VIDEO_FPS)
    )
    starts = seam_starts(_model_index(times_s[-1]) + 1)
    seams = summarize_seams(starts, near_seam(times_s, starts), mse, ssim, flicker)
    preservation = PreservationReport(
        psnr_db=psnr_db(float(mse.mean())),
        worst_psnr_db=psnr_db(float(mse.max())),
        ssim=float(ssim.mean()),
        worst_ssim=float(ssim.min()),
        flicker=float(flicker[1:].mean()) if len(flicker) > 1 else 0.0,
        region_source=region_source,
    )
    sync, sync_series, samples = _sync(take, inputs, times_s, notes)
    lse_report, identity = _networks(inputs, face_crops, times_s, samples, notes)
    series = Series(
        times_s=tuple(times_s.tolist()),
        psnr_db=tuple(psnr_db(v) for v in mse.tolist()),
        ssim=tuple(ssim.tolist()),
        flicker=tuple(flicker.tolist()),
        **sync_series,
    )
    return TakeReport(
        source=str(source),
        take=str(take),
        num_frames=len(times_s),
        fps=float(fps),
        preservation=preservation,
        seams=seams,
        series=series,
        sync=sync,
        lse=lse_report,
        csim=identity,
        worst_frames=tuple(t for _, _, t in sorted(worst, key=lambda item: -item[0])),
        notes=tuple(notes),
        elapsed_s=time.monotonic() - started,
        is_partial=is_partial,
    )


def _uses_landmark_region(inputs: EvalInputs) -> bool:
    """The mouth region comes from the landmarks unless they are noise and crop boxes exist."""
    mouth = inputs.mouth
    return mouth is not None and (mouth.is_reliable or inputs.crop_boxes is None)


def _mouth_box(inputs: EvalInputs, index: int, time_s: float) -> np.ndarray | None:
    if inputs.mouth is not None and _uses_landmark_region(inputs):
        boxes = inputs.mouth.boxes
        return boxes[min(index, len(boxes) - 1)]
    if inputs.crop_boxes is not None and len(inputs.crop_boxes):
        model = min(_model_index(time_s), len(inputs.crop_boxes) - 1)
        return crop_mouth_boxes(inputs.crop_boxes[model : model + 1])[0]
    return None


def _keep_worst(
    worst: list[tuple[float, int, Thumbnail]],
    index: int,
    time_s: float,
    mse: float,
    source_rgb: np.ndarray,
    take_rgb: np.ndarray,
) -> None:
    """Keep the ``NUM_WORST_FRAMES`` frames of largest MSE (a min-heap on MSE)."""
    if mse <= 0 or (len(worst) == NUM_WORST_FRAMES and mse <= worst[0][0]):
        return
    thumbnail = Thumbnail(index, time_s, psnr_db(mse), _strip(source_rgb, take_rgb))
    item = (mse, index, thumbnail)
    if len(worst) < NUM_WORST_FRAMES:
        heapq.heappush(worst, item)
    else:
        heapq.heapreplace(worst, item)


def _strip(source_rgb: np.ndarray, take_rgb: np.ndarray) -> bytes:
    """PNG of source | take | |difference| x 4, ``THUMBNAIL_HEIGHT_PX`` high."""
    diff = np.clip(np.abs(source_rgb.astype(np.int16) - take_rgb) * 4, 0, 255).astype(np.uint8)
    strip = np.concatenate([source_rgb, take_rgb, diff], axis=1)
    scale = THUMBNAIL_HEIGHT_PX / strip.shape[0]
    size = (max(1, round(strip.shape[1] * scale)), THUMBNAIL_HEIGHT_PX)
    small = cv2.resize(strip, size, interpolation=cv2.INTER_AREA)
    is_ok, png = cv2.imencode(".png", small[..., ::-1])
    return png.tobytes() if is_ok else b""


def _crops(
    source_rgb: np.ndarray, take_rgb: np.ndarray, face_box: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Square ``LIP_SIZE_PX`` crops of both frames around ``face_box`` (xyxy), edge-padded."""
    cx, cy = (face_box[0] + face_box[2]) / 2, (face_box[1] + face_box[3]) / 2
    half = CROP_SCALE * max(face_box[2] - face_box[0], face_box[3] - face_box[1]) / 2
    matrix = np.array(
        [[LIP_SIZE_PX / (2 * half), 0, LIP_SIZE_PX / 2 - cx * LIP_SIZE_PX / (2 * half)],
         [0, LIP_SIZE_PX / (2 * half), LIP_SIZE_PX / 2 - cy * LIP_SIZE_PX / (2 * half)]]
    )  # fmt: skip
    size = (LIP_SIZE_PX, LIP_SIZE_PX)

    def crop(image: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(
            image, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
        )

    return crop(source_rgb), crop(take_rgb)


def _sync(
    take: Path, inputs: EvalInputs, times_s: np.ndarray, notes: list[str]
) -> tuple[SyncReport | None, dict[str, tuple], np.ndarray | None]:
    audio_path = inputs.dialogue or take
    try:
        samples = load_audio(audio_path, MODEL_SAMPLE_RATE_HZ)
    except MediaError as error:
        notes.append(f"sync: no audio ({error.message})")
        return None, {}, None
    if inputs.mouth is None:
        notes.append("sync: no mouth landmarks (no face model and no --truth)")
        return None, {}, samples
    if "test weights" in inputs.mouth.source:
        notes.append("sync: the landmarks come from test weights; the sync numbers measure nothing")
    opening = inputs.mouth.opening[: len(times_s)]
    envelope = speech_envelope(samples, MODEL_SAMPLE_RATE_HZ, times_s[: len(opening)])
    estimate = estimate_offset(opening, envelope)
    local = sync_over_time(opening, envelope)
    report = SyncReport(
        offset_frames=estimate.offset_frames,
        confidence=estimate.confidence,
        peak_correlation=estimate.peak_correlation,
        mouth_source=inputs.mouth.source,
        audio_source="dialogue" if inputs.dialogue else "take audio",
    )
    series = {
        "sync_times_s": tuple(
            float(times_s[min(c, len(times_s) - 1)]) for c in local.centre_frames
        ),
        "sync_offset_frames": tuple(int(v) for v in local.offset_frames),
        "sync_confidence": tuple(float(v) for v in local.confidence),
    }
    return report, series, samples


def _networks(
    inputs: EvalInputs,
    face_crops: list[tuple[np.ndarray, np.ndarray]],
    times_s: np.ndarray,
    samples: np.ndarray | None,
    notes: list[str],
) -> tuple[LseReport | None, float | None]:
    if inputs.syncnet is None and inputs.arcface is None:
        notes.append("LSE/CSIM: no SyncNet/ArcFace weights on disk (see docs/eval.md)")
        return None, None
    if not face_crops:
        notes.append("LSE/CSIM: no face boxes (they come with the mouth landmarks)")
        return None, None
    # One crop per 25 fps model frame: the frame whose interval holds the model frame's time.
    model_times = np.arange(_model_index(times_s[len(face_crops) - 1]) + 1) / VIDEO_FPS
    picks = np.clip(
        np.searchsorted(times_s, model_times + 1e-6, side="right") - 1, 0, len(face_crops) - 1
    )
    source_faces = np.stack([face_crops[i][0] for i in picks])
    take_faces = np.stack([face_crops[i][1] for i in picks])
    lse_report = None
    if inputs.syncnet is not None and samples is not None and len(take_faces) > 6:
        result = lse(inputs.syncnet, np.ascontiguousarray(take_faces[..., ::-1]), mfcc(samples))
        lse_report = LseReport(result.lse_c, result.lse_d, result.offset_frames)
    identity = None
    if inputs.arcface is not None:
        identity = float(csim(inputs.arcface, source_faces[::5], take_faces[::5]).mean())
    return lse_report, identity

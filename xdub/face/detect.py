"""YOLOX person detection as mmdet 3.x runs it, batched, plus X-Dub's choice of one person box.

Pre-processing (``letterbox``): keep-ratio ``cv2.resize`` so the long side is 640, then pad
right/bottom with 114 to 640×640; the network sees BGR 0…255. Post-processing
(``postprocess``): decode every prior, keep ``obj · max cls ≥ score_thr``, rescale to the frame,
class-aware NMS (mmcv ``batched_nms``). ``person_box`` then applies X-Dub's filter: class 0 with
score > 0.5, mmpose's NMS at 0.7, the highest-scoring box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torchvision
from torch import Tensor

from xdub.errors import MediaError
from xdub.face.nets.configs import YoloxConfig
from xdub.face.nets.yolox import Yolox

INPUT_SIZE = 640
"""YOLOX test scale: the frame is letterboxed into INPUT_SIZE × INPUT_SIZE."""
PAD_VALUE = 114
PERSON_LABEL = 0
PERSON_SCORE_THR = 0.5
PERSON_NMS_THR = 0.7


@dataclass(frozen=True)
class Detections:
    """Boxes of one frame: ``bboxes (N, 4)`` float32 xyxy frame pixels, ``scores (N,)`` float32,
    ``labels (N,)`` and ``prior_index (N,)`` int64 (which of the 8400 priors it came from)."""

    bboxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    prior_index: np.ndarray

    def take(self, index: np.ndarray) -> Detections:
        return Detections(
            self.bboxes[index], self.scores[index], self.labels[index], self.prior_index[index]
        )


def letterbox(frame_bgr: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """``(H, W, 3)`` uint8 → ``(640, 640, 3)`` uint8 canvas and ``(new_w / w, new_h / h)``."""
    if frame_bgr.dtype != np.uint8 or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        raise MediaError(
            f"expected an (H, W, 3) uint8 BGR frame, got {frame_bgr.dtype} {frame_bgr.shape}"
        )
    h, w = frame_bgr.shape[:2]
    ratio = min(INPUT_SIZE / max(h, w), INPUT_SIZE / min(h, w))
    new_w, new_h = int(w * ratio + 0.5), int(h * ratio + 0.5)
    if new_w < 1 or new_h < 1:
        raise MediaError(f"frame of {w}×{h} pixels is too narrow to detect people in")
    resized = cv2.resize(frame_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    side = max(new_w, new_h)
    canvas = np.full((side, side, 3), PAD_VALUE, dtype=np.uint8)
    canvas[:new_h, :new_w] = resized
    return canvas, (new_w / w, new_h / h)


def grid_priors(
    featmap_sizes: Sequence[tuple[int, int]], strides: Sequence[int], device: torch.device
) -> Tensor:
    """``(N, 4)`` float32 ``(x, y, stride, stride)`` per cell, levels concatenated, rows y-major."""
    priors = []
    for (h, w), stride in zip(featmap_sizes, strides, strict=True):
        ys, xs = torch.meshgrid(
            torch.arange(h, device=device, dtype=torch.float32) * stride,
            torch.arange(w, device=device, dtype=torch.float32) * stride,
            indexing="ij",
        )
        s = torch.full_like(xs, float(stride))
        priors.append(torch.stack([xs, ys, s, s], dim=-1).reshape(-1, 4))
    return torch.cat(priors)


def decode_boxes(priors: Tensor, deltas: Tensor) -> Tensor:
    """``(..., N, 4)`` (dx, dy, log w, log h) → xyxy: centre ``d·s + p``, size ``exp(d)·s``."""
    centers = deltas[..., :2] * priors[:, 2:] + priors[:, :2]
    sizes = deltas[..., 2:].exp() * priors[:, 2:]
    half = sizes / 2
    return torch.cat([centers - half, centers + half], dim=-1)


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_thr: float) -> Tensor:
    """mmcv ``batched_nms``: per class, greedy, IoU without +1, suppress if IoU > thr.

    ``boxes (N, 4)`` float32, ``scores (N,)``, ``labels (N,)``; returns the kept indices in
    descending score order, int64 on the CPU. torchvision's kernel has the same rule and runs
    in C++ (a random-weight detector keeps thousands of low-score candidates).
    """
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.int64)
    keep = torchvision.ops.batched_nms(boxes.cpu(), scores.cpu(), labels.cpu(), iou_thr)
    return keep.to(torch.int64)


def candidates(
    cls_logits: Sequence[Tensor],
    box_deltas: Sequence[Tensor],
    obj_logits: Sequence[Tensor],
    scale_factors: Sequence[tuple[float, float]],
    config: YoloxConfig,
) -> list[Detections]:
    """Per image, the priors with ``sigmoid(obj) · max sigmoid(cls) ≥ score_thr``, in prior order,
    boxes divided by the letterbox ``scale_factors``. Inputs: per level ``(B, C, H, W)``."""
    device = cls_logits[0].device
    batch = cls_logits[0].shape[0]
    sizes = [(int(c.shape[2]), int(c.shape[3])) for c in cls_logits]
    priors = grid_priors(sizes, config.strides, device)

    def flat(levels: Sequence[Tensor]) -> Tensor:
        return torch.cat([t.permute(0, 2, 3, 1).reshape(batch, -1, t.shape[1]) for t in levels], 1)

    cls_scores = flat(cls_logits).sigmoid()
    objectness = flat(obj_logits)[..., 0].sigmoid()
    boxes = decode_boxes(priors, flat(box_deltas))
    out = []
    for b in range(batch):
        max_scores, labels = torch.max(cls_scores[b], 1)
        keep = objectness[b] * max_scores >= config.score_thr
        sx, sy = scale_factors[b]
        factor = torch.tensor([sx, sy, sx, sy], dtype=torch.float32, device=device)
        out.append(
            Detections(
                (boxes[b][keep] / factor).cpu().numpy(),
                (max_scores[keep] * objectness[b][keep]).cpu().numpy(),
                labels[keep].cpu().numpy(),
                torch.nonzero(keep)[:, 0].cpu().numpy(),
            )
        )
    return out


def postprocess(
    raw: tuple[Sequence[Tensor], Sequence[Tensor], Sequence[Tensor]],
    scale_factors: Sequence[tuple[float, float]],
    config: YoloxConfig,
) -> list[Detections]:
    """Raw head outputs of a batch → final detections per image, in descending score."""
    out = []
    for found in candidates(*raw, scale_factors, config):
        keep = batched_nms(
            torch.from_numpy(found.bboxes),
            torch.from_numpy(found.scores),
            torch.from_numpy(found.labels),
            config.nms_iou_thr,
        )
        out.append(found.take(keep.numpy()))
    return out


@torch.inference_mode()
def detect_persons(
    model: Yolox, frames_bgr: Sequence[np.ndarray], batch_size: int = 8
) -> list[Detections]:
    """All YOLOX detections (every class) for each ``(H, W, 3)`` uint8 BGR frame.

    Frames are letterboxed on the CPU and run ``batch_size`` at a time on the model's device;
    only the detections are kept, so memory is bounded by one batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    device = next(model.parameters()).device
    out: list[Detections] = []
    for start in range(0, len(frames_bgr), batch_size):
        boxed = [letterbox(frame) for frame in frames_bgr[start : start + batch_size]]
        canvases = torch.from_numpy(np.stack([canvas for canvas, _ in boxed])).to(device)
        images = canvases.permute(0, 3, 1, 2).float().contiguous()
        out += postprocess(model(images), [factor for _, factor in boxed], model.config)
    return out


def nms_plus_one(dets: np.ndarray, iou_thr: float) -> list[int]:
    """mmpose's numpy NMS on ``(N, 5)`` (xyxy, score): +1 px sizes, keeps IoU ≤ thr; kept rows."""
    if len(dets) == 0:
        return []
    x1, y1, x2, y2, scores = dets.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while len(order) > 0:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[iou <= iou_thr]
    return keep


def person_candidates(dets: Detections) -> np.ndarray:
    """X-Dub's person candidates: label 0, score above 0.5, mmpose NMS at 0.7.

    Returns ``(N, 5)`` float32 rows ``x1, y1, x2, y2, score`` in frame pixels.
    """
    is_person = (dets.labels == PERSON_LABEL) & (dets.scores > PERSON_SCORE_THR)
    rows = np.concatenate([dets.bboxes, dets.scores[:, None]], axis=1)[is_person]
    return rows[nms_plus_one(rows, PERSON_NMS_THR)].astype(np.float32)


def person_box(dets: Detections) -> np.ndarray:
    """X-Dub's pick: ``(1, 4)`` float32 box of the best person candidate, or ``(0, 4)``.

    mmpose's NMS always keeps the top box, so this is the highest-scoring person above 0.5.
    """
    rows = person_candidates(dets)
    if len(rows) == 0:
        return np.zeros((0, 4), dtype=np.float32)
    return rows[np.argmax(rows[:, 4]), :4][None]

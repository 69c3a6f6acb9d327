"""Top-down RTMW inference as mmpose runs it: crop, normalise, flip test, SimCC decode, map back.

``estimate_wholebody`` processes frames in batches on the model's device and returns the 133
COCO-WholeBody keypoints per frame in image pixels, with SimCC scores (RTMW's ~0–10 scale) and
visibilities. One box per frame; a frame without a box is cropped whole (``[0, 0, w, h]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from xdub.face.affine import bbox_center_scale, fix_aspect_ratio, warp_affine_linear, warp_matrix
from xdub.face.nets.configs import RtmwConfig
from xdub.face.nets.rtmw import Rtmw

BBOX_PADDING = 1.25
"""mmpose ``GetBBoxCenterScale`` default: the crop is 1.25× the person box."""


def _flip_pairs_to_indices(num_keypoints: int, pairs: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    indices = list(range(num_keypoints))
    for left, right in pairs:
        indices[left], indices[right] = right, left
    return tuple(indices)


WHOLEBODY_FLIP_INDICES = _flip_pairs_to_indices(
    133,
    [
        # body (COCO 17): eyes, ears, shoulders, elbows, wrists, hips, knees, ankles
        *((i, i + 1) for i in range(1, 17, 2)),
        # feet: big toe, small toe, heel
        (17, 20), (18, 21), (19, 22),
        # face (iBUG 68 at 23..90): jaw, brows, nose base, eyes, outer and inner lips
        *((23 + j, 39 - j) for j in range(8)),
        *((40 + j, 49 - j) for j in range(5)),
        (54, 58), (55, 57),
        (59, 68), (60, 67), (61, 66), (62, 65), (63, 70), (64, 69),
        (71, 77), (72, 76), (73, 75), (78, 82), (79, 81),
        (83, 87), (84, 86), (88, 90),
        # hands: left 91..111 <-> right 112..132
        *((91 + j, 112 + j) for j in range(21)),
    ],
)  # fmt: skip
"""COCO-WholeBody horizontal flip map (mmpose dataset meta ``flip_indices``)."""


@dataclass(frozen=True)
class PoseCrops:
    """A batch of warped crops: ``crops (B, H, W, 3)`` uint8 BGR, ``centers``/``scales`` ``(B, 2)``
    float32 image pixels (scale after the aspect fix)."""

    crops: np.ndarray
    centers: np.ndarray
    scales: np.ndarray


@dataclass(frozen=True)
class PoseKeypoints:
    """Per frame: ``keypoints (F, K, 2)`` float32 image pixels, ``scores``/``visible (F, K)``."""

    keypoints: np.ndarray
    scores: np.ndarray
    visible: np.ndarray


def whole_image_box(frame: np.ndarray) -> np.ndarray:
    """``[0, 0, w, h]`` float32: mmpose's box when no person was detected."""
    h, w = frame.shape[:2]
    return np.array([0, 0, w, h], dtype=np.float32)


def crop_frames(
    frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray | None], config: RtmwConfig
) -> PoseCrops:
    """Warp each ``(H, W, 3)`` uint8 BGR frame's box (xyxy float32, or None) to ``input_size``."""
    width, height = config.input_size
    crops, centers, scales = [], [], []
    for frame, box in zip(frames, boxes, strict=True):
        center, scale = bbox_center_scale(
            whole_image_box(frame) if box is None else box, BBOX_PADDING
        )
        scale = fix_aspect_ratio(scale, width / height)
        crops.append(
            warp_affine_linear(frame, warp_matrix(center, scale, (width, height)), (width, height))
        )
        centers.append(center)
        scales.append(scale)
    return PoseCrops(np.stack(crops), np.stack(centers), np.stack(scales))


def normalize_crops(crops_bgr: Tensor, config: RtmwConfig) -> Tensor:
    """``(B, H, W, 3)`` uint8 BGR → ``(B, 3, H, W)`` float32 RGB, ``(x − mean) / std``."""
    rgb = crops_bgr.permute(0, 3, 1, 2)[:, [2, 1, 0]].float()
    mean = torch.tensor(config.mean_rgb, dtype=torch.float32, device=rgb.device).view(1, 3, 1, 1)
    std = torch.tensor(config.std_rgb, dtype=torch.float32, device=rgb.device).view(1, 3, 1, 1)
    return ((rgb - mean) / std).contiguous()


def flip_average(
    x: Tensor, y: Tensor, x_flipped: Tensor, y_flipped: Tensor, flip_indices: Sequence[int]
) -> tuple[Tensor, Tensor]:
    """Flip-test merge: the flipped pass, left/right swapped and x bins reversed, averaged in."""
    index = torch.as_tensor(flip_indices, device=x.device)
    return (x + x_flipped[:, index].flip(-1)) * 0.5, (y + y_flipped[:, index]) * 0.5


@dataclass(frozen=True)
class SimccDecoded:
    """``keypoints (B, K, 2)`` float32 in crop pixels (−0.5 where the score ≤ 0), ``scores`` and
    ``visible (B, K)`` float32."""

    keypoints: Tensor
    scores: Tensor
    visible: Tensor


def _max_softmax(logits: Tensor) -> Tensor:
    """Largest softmax probability per row, ``1 / Σ exp(v − max v)``, float32."""
    shifted = logits - logits.amax(dim=-1, keepdim=True)
    return torch.reciprocal(torch.exp(shifted).sum(dim=-1))


def simcc_decode(x: Tensor, y: Tensor, config: RtmwConfig) -> SimccDecoded:
    """mmpose ``SimCCLabel.decode`` (no DARK, with visibility) of ``(B, K, bins)`` logits.

    Location = first argmax per axis / split ratio; score = min of the two row maxima (locations
    become −1 bins where it is ≤ 0); visibility = min of the two max-softmax values at
    temperature ``1 / (decode_beta · sigma)``, computed in float32 as under numpy 1.x.
    """
    score = torch.minimum(x.amax(dim=-1), y.amax(dim=-1))
    locations = torch.stack((x.argmax(dim=-1), y.argmax(dim=-1)), dim=-1).float()
    locations = torch.where((score <= 0)[..., None], torch.full_like(locations, -1.0), locations)
    beta = config.decode_beta
    sigma_x, sigma_y = (float(np.float32(s)) for s in config.sigma)
    visible = torch.minimum(_max_softmax(x * beta * sigma_x), _max_softmax(y * beta * sigma_y))
    return SimccDecoded(locations / config.simcc_split_ratio, score, visible)


def crop_to_image(
    keypoints: np.ndarray, centers: np.ndarray, scales: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """Crop pixels ``(B, K, 2)`` → image pixels, float64 arithmetic stored as float32 (mmpose)."""
    size = np.asarray(input_size, dtype=np.int64)
    scales64 = scales[:, None, :].astype(np.float64)
    image = keypoints / size * scales64 + centers[:, None, :] - (np.float32(0.5) * scales)[:, None]
    return image.astype(np.float32)


@torch.inference_mode()
def run_rtmw(model: Rtmw, crops_bgr: np.ndarray, *, flip_test: bool) -> SimccDecoded:
    """Normalise ``(B, H, W, 3)`` uint8 crops on the model's device, run it (twice with the flip
    test), decode. Results stay on the device."""
    config = model.config
    device = next(model.parameters()).device
    inputs = normalize_crops(torch.from_numpy(crops_bgr).to(device), config)
    x, y = model(inputs)
    if flip_test:
        x_flipped, y_flipped = model(inputs.flip(-1))
        x, y = flip_average(x, y, x_flipped, y_flipped, WHOLEBODY_FLIP_INDICES)
    return simcc_decode(x, y, config)


def estimate_wholebody(
    model: Rtmw,
    frames: Sequence[np.ndarray],
    boxes: Sequence[np.ndarray | None],
    batch_size: int = 8,
) -> PoseKeypoints:
    """133 keypoints per ``(H, W, 3)`` uint8 BGR frame for its xyxy float32 box (None: whole frame).

    Frames are cropped on the CPU and run ``batch_size`` at a time on the model's device; only
    the decoded keypoints are kept, so memory is bounded by one batch.
    """
    if len(frames) != len(boxes):
        raise ValueError(f"{len(frames)} frames but {len(boxes)} boxes")
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    config = model.config
    keypoints, scores, visible = [], [], []
    for start in range(0, len(frames), batch_size):
        batch = crop_frames(
            frames[start : start + batch_size], boxes[start : start + batch_size], config
        )
        decoded = run_rtmw(model, batch.crops, flip_test=config.flip_test)
        keypoints.append(
            crop_to_image(
                decoded.keypoints.cpu().numpy(), batch.centers, batch.scales, config.input_size
            )
        )
        scores.append(decoded.scores.cpu().numpy())
        visible.append(decoded.visible.cpu().numpy())
    k = config.num_keypoints
    return PoseKeypoints(
        np.concatenate(keypoints) if keypoints else np.zeros((0, k, 2), np.float32),
        np.concatenate(scores) if scores else np.zeros((0, k), np.float32),
        np.concatenate(visible) if visible else np.zeros((0, k), np.float32),
    )

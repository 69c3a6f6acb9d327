"""What the report measures with: the mouth source and the metric networks, found on disk.

The order of mouth sources: the synthetic truth when given; else the model folder's whole-body
landmark networks (noted as test weights when the folder is a generated one); else none (no
sync, preservation over the whole frame).
"""

from __future__ import annotations

import logging
from pathlib import Path

from xdub.errors import ModelError
from xdub.eval.identity import IResNet
from xdub.eval.mouth import MouthTrack, landmark_track, truth_track
from xdub.eval.syncnet import SyncNet
from xdub.eval.weights import (
    ARCFACE_FILES,
    SYNCNET_FILES,
    find_weights,
    load_arcface,
    load_face_landmarks,
    load_syncnet,
)
from xdub.media.decode import iter_frames

log = logging.getLogger(__name__)


def metric_networks(
    model_dir: Path | None, device: str = "cpu"
) -> tuple[SyncNet | None, IResNet | None]:
    """SyncNet and ArcFace from ``model_dir/eval/`` where their files are (None where not)."""
    syncnet_path = find_weights(model_dir, SYNCNET_FILES)
    arcface_path = find_weights(model_dir, ARCFACE_FILES)
    syncnet = load_syncnet(syncnet_path, device) if syncnet_path else None
    arcface = load_arcface(arcface_path, device) if arcface_path else None
    return syncnet, arcface


def take_mouth(
    take: Path, *, truth: Path | None, model_dir: Path | None, device: str = "cpu"
) -> MouthTrack | None:
    """The take's mouth: from ``truth``, else the folder's landmark networks, else None."""
    if truth is not None:
        return truth_track(truth)
    if model_dir is None:
        return None
    try:
        estimator, is_test_weights = load_face_landmarks(model_dir, device)
    except ModelError as error:
        log.warning("no mouth landmarks: %s", error)
        return None
    frames = (frame.rgb for frame in iter_frames(take))
    return landmark_track(estimator, frames, is_test_weights=is_test_weights)

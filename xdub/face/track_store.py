"""A take's crop track on disk, so a later take of the same clip (``Make final`` after a draft)
reuses it instead of tracking the face again: boxes, face scores, has-face flags and the case."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from xdub.errors import MediaError
from xdub.face.bbox import CropCase
from xdub.face.track import FaceTrack

TRACK_FILE = "crop_track.npz"
"""Its name in a daemon job's folder (a draft's, for ``Make final``)."""


def save_track(path: Path, track: FaceTrack) -> None:
    """Write ``track`` to ``path`` (an ``.npz``), replacing it atomically."""
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as file:
        np.savez(
            file,
            boxes=track.boxes,
            face_scores=track.face_scores,
            has_face=track.has_face,
            case=np.int64(track.case),
        )
        file.flush()
        os.fsync(file.fileno())  # a kill -9 right after leaves the whole file or none
    partial.replace(path)


def load_track(path: Path, num_frames: int) -> FaceTrack:
    """The track saved at ``path``; ``MediaError`` unless it has ``num_frames`` model frames."""
    with path.open("rb") as file, np.load(file) as saved:  # closed even when np.load raises
        track = FaceTrack(
            boxes=saved["boxes"],
            face_scores=saved["face_scores"],
            has_face=saved["has_face"],
            case=CropCase(int(saved["case"])),
        )
    if len(track.boxes) != num_frames:
        raise MediaError(
            f"{path}: the stored crop track has {len(track.boxes)} frames, the clip {num_frames}",
            code="bad_range",
            hint="the clip changed since the draft: submit it again instead of making it final",
        )
    return track


def read_cached_track(path: Path, num_frames: int) -> FaceTrack | None:
    """The track at ``path`` if it is readable and has ``num_frames`` model frames, else None
    (missing, damaged, or another clip's): the caller tracks the face again."""
    try:
        return load_track(path, num_frames)
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, MediaError):
        return None

"""Per-window checkpoints of a take (``LoopState``) in its job folder, written atomically.

``checkpoint/w0002/`` holds ``latents.safetensors`` (one tensor per finished window) and
``motion.npy`` (the motion frames the next window starts from); the latents' metadata names
the first window they hold (not 0 for a segment of a split take, ``xdub.sample.segments``).
A checkpoint is written into a temporary folder and renamed into place, so a crash leaves
either the old or the new one.
``checkpoint/track.npz`` keeps the face track, so a resumed take skips face tracking. A split
take's segments (``xdub_daemon.split_parts``) keep theirs apart, in ``segments/AAAA-BBBB/``.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

from xdub.protocol.precheck import disk_full_from
from xdub.sample.clips import LoopState

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
SEGMENTS_DIR = "segments"
_TRACK = "track.npz"
_LATENTS = "latents.safetensors"
_MOTION = "motion.npy"
_FIRST_WINDOW = "first_window"
"""The latents' metadata: the first window they hold (a segment of a split take's)."""


def _window_key(index: int) -> str:
    return f"window_{index:04d}"


def _complete(root: Path) -> list[Path]:
    """Finished checkpoint folders, oldest first."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("w"))


def save_checkpoint(job_dir: Path, state: LoopState) -> Path:
    """Write ``state`` as ``job_dir/checkpoint/wNNNN`` (N = windows done); older ones go."""
    root = job_dir / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"w{state.windows_done:04d}"
    temp = root / f".{final.name}.tmp"
    shutil.rmtree(temp, ignore_errors=True)
    tensors = {
        _window_key(i): latents.detach().cpu().contiguous()
        for i, latents in enumerate(state.window_latents)
    }
    try:
        _write(temp, tensors, state.motion_video, state.first_window)
    except OSError as error:
        shutil.rmtree(temp, ignore_errors=True)  # the last good checkpoint stays
        needed = sum(t.numel() * t.element_size() for t in tensors.values())
        if state.motion_video is not None:
            needed += state.motion_video.nbytes
        what = f"the checkpoint after window {state.windows_done}"
        full = disk_full_from(error, needed, what, root)
        if full is None:
            raise
        raise full from error
    shutil.rmtree(final, ignore_errors=True)
    os.rename(temp, final)
    for older in _complete(root):
        if older != final:
            shutil.rmtree(older, ignore_errors=True)
    return final


def _write(
    folder: Path, tensors: dict[str, torch.Tensor], motion: np.ndarray | None, first_window: int
) -> None:
    folder.mkdir()
    metadata = {_FIRST_WINDOW: str(first_window)}
    (folder / _LATENTS).write_bytes(
        save(tensors, metadata)
    )  # Python's write: a full disk is an OSError
    if motion is not None:
        np.save(folder / _MOTION, motion)
    for item in folder.iterdir():
        with open(item, "rb") as stream:
            os.fsync(stream.fileno())


def load_checkpoint(job_dir: Path, device: object = "cpu") -> LoopState | None:
    """The newest checkpoint of ``job_dir`` with its latents on ``device``, or None."""
    folders = _complete(job_dir / CHECKPOINT_DIR)
    if not folders:
        return None
    folder = folders[-1]
    tensors = load_file(str(folder / _LATENTS), device=str(device))
    with safe_open(str(folder / _LATENTS), "pt") as file:
        first_window = int((file.metadata() or {}).get(_FIRST_WINDOW, 0))
    latents = [tensors[_window_key(i)] for i in range(len(tensors))]
    motion_path = folder / _MOTION
    motion = np.load(motion_path) if motion_path.is_file() else None
    log.info("loaded the checkpoint %s (%d windows)", folder, len(latents))
    return LoopState(window_latents=latents, motion_video=motion, first_window=first_window)


def track_cache(job_dir: Path) -> Path:
    """Where the job's face track is kept (its folder created)."""
    root = job_dir / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    return root / _TRACK


def segment_dir(job_dir: Path, first: int, stop: int) -> Path:
    """The folder of a split take's segment ``[first, stop)``: its checkpoints, dialogue and
    work folders (created), apart from the segments other actors run at the same time."""
    folder = job_dir / SEGMENTS_DIR / f"{first:04d}-{stop:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def remove_checkpoints(job_dir: Path) -> None:
    """Remove the take's checkpoints and its segments' (``segment_dir``)."""
    shutil.rmtree(job_dir / CHECKPOINT_DIR, ignore_errors=True)
    shutil.rmtree(job_dir / SEGMENTS_DIR, ignore_errors=True)


WORK_PREFIX = "xdub-"
"""The pipeline's temporary work folders (face crops, frames: about 1.2 GB per minute of clip)
in a job folder start so (``DubPipeline.work_dir``)."""


def remove_stale_work(job_dir: Path) -> None:
    """Remove the work folders a killed worker left in ``job_dir`` (a live run makes its own,
    and a job runs once at a time)."""
    if not job_dir.is_dir():
        return
    for item in job_dir.iterdir():
        if item.is_dir() and item.name.startswith(WORK_PREFIX):
            log.info("removing %s, left by an interrupted run", item)
            shutil.rmtree(item, ignore_errors=True)


def clean_job_dir(job_dir: Path, intermediates: tuple[str, ...]) -> None:
    """After a take is done: remove its checkpoints, stale work folders and ``intermediates``
    (file names in ``job_dir``), and the folder itself unless the take or other files are in
    it."""
    remove_checkpoints(job_dir)
    remove_stale_work(job_dir)
    for name in intermediates:
        (job_dir / name).unlink(missing_ok=True)
    try:
        job_dir.rmdir()
    except OSError:  # not empty: the take is in it
        pass

"""Window checkpoints round-trip exactly; the fault hook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from xdub.face.bbox import CropCase
from xdub.face.track import FaceTrack
from xdub.face.track_store import read_cached_track, save_track
from xdub.sample.clips import LoopState
from xdub_daemon.checkpoint import (
    clean_job_dir,
    load_checkpoint,
    remove_checkpoints,
    save_checkpoint,
    track_cache,
)
from xdub_daemon.faults import FAULT_ENV, with_test_faults


def _state(num_windows: int) -> LoopState:
    generator = torch.Generator().manual_seed(num_windows)
    latents = [
        torch.randn(1, 4, 3, 2, 2, generator=generator).to(torch.bfloat16)
        for _ in range(num_windows)
    ]
    motion = np.random.default_rng(num_windows).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    return LoopState(window_latents=latents, motion_video=motion)


def test_checkpoint_round_trips_and_keeps_only_the_newest(tmp_path: Path) -> None:
    assert load_checkpoint(tmp_path) is None
    save_checkpoint(tmp_path, _state(1))
    state = _state(2)
    save_checkpoint(tmp_path, state)
    (tmp_path / "checkpoint" / ".w0003.tmp").mkdir()  # a write cut short by a crash
    loaded = load_checkpoint(tmp_path)
    assert loaded is not None and loaded.windows_done == 2
    for got, want in zip(loaded.window_latents, state.window_latents, strict=True):
        assert got.dtype == want.dtype and torch.equal(got, want)
    np.testing.assert_array_equal(loaded.motion_video, state.motion_video)
    assert sorted(p.name for p in (tmp_path / "checkpoint").iterdir()) == [".w0003.tmp", "w0002"]
    remove_checkpoints(tmp_path)
    assert load_checkpoint(tmp_path) is None


def test_a_segment_s_checkpoint_keeps_its_first_window(tmp_path: Path) -> None:
    """A split take's segment (``xdub.sample.segments``) starting at window 3."""
    state = _state(2)
    segment = LoopState(state.window_latents, state.motion_video, first_window=3)
    folder = save_checkpoint(tmp_path, segment)
    assert folder.name == "w0005"  # named by the next window to denoise
    loaded = load_checkpoint(tmp_path)
    assert loaded is not None and loaded.first_window == 3 and loaded.windows_done == 5
    assert all(
        torch.equal(a, b) for a, b in zip(loaded.window_latents, state.window_latents, strict=True)
    )


def test_the_face_track_cache_round_trips_and_refuses_another_clips(tmp_path: Path) -> None:
    boxes = np.arange(12, dtype=np.int64).reshape(3, 4)
    track = FaceTrack(boxes, np.array([0.5, 0.6, 0.7]), np.array([True, False, True]), CropCase(2))
    path = track_cache(tmp_path)
    assert read_cached_track(path, 3) is None  # nothing cached yet
    save_track(path, track)
    loaded = read_cached_track(path, 3)
    assert loaded is not None and loaded.case is CropCase.CONSTANT_SIZE
    np.testing.assert_array_equal(loaded.boxes, boxes)
    np.testing.assert_array_equal(loaded.has_face, track.has_face)
    assert read_cached_track(path, 4) is None  # another frame count: tracked again
    path.write_bytes(path.read_bytes()[:40])  # cut short
    assert read_cached_track(path, 3) is None


def test_a_done_jobs_folder_goes_unless_the_take_is_in_it(tmp_path: Path) -> None:
    elsewhere, holds_take = tmp_path / "a", tmp_path / "b"
    for folder in (elsewhere, holds_take):
        save_checkpoint(folder, _state(1))
        save_track(
            track_cache(folder),
            FaceTrack(np.zeros((1, 4), np.int64), np.ones(1), np.ones(1, bool), CropCase(1)),
        )
        (folder / "dialogue.wav").write_bytes(b"RIFF")
    (holds_take / "take.mov").write_bytes(b"take")
    for folder in (elsewhere, holds_take):  # the crops a killed worker left
        (folder / "xdub-k1ll3d").mkdir()
        (folder / "xdub-k1ll3d" / "crops.npy").write_bytes(b"crops")
    clean_job_dir(elsewhere, ("dialogue.wav",))
    clean_job_dir(holds_take, ("dialogue.wav",))
    assert not elsewhere.exists()
    assert [item.name for item in holds_take.iterdir()] == ["take.mov"]


def test_fault_hook_strikes_only_at_its_window_of_a_longer_job(monkeypatch) -> None:
    calls: list[int] = []
    monkeypatch.setenv(FAULT_ENV, "oom_at_window:1")
    hook = with_test_faults(lambda done, total, state: calls.append(done))
    hook(1, 1, LoopState())  # a one-window job runs normally
    with pytest.raises(torch.OutOfMemoryError):
        hook(1, 2, LoopState())
    assert calls == [1, 1]  # the checkpoint callback ran before the fault
    monkeypatch.setenv(FAULT_ENV, "explode")
    with pytest.raises(ValueError, match=FAULT_ENV):
        with_test_faults(lambda done, total, state: None)

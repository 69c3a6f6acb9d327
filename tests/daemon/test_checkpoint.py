"""Window checkpoints round-trip exactly; the fault hook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from xdub.sample.clips import LoopState
from xdub_daemon.checkpoint import load_checkpoint, remove_checkpoints, save_checkpoint
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

"""``FrameRing``: frames wait in a fixed-size file, first in first out, slots reused."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from xdub.media.frame_ring import FrameRing


def _frame(value: int) -> np.ndarray:
    rng = np.random.default_rng(value)
    return rng.integers(0, 256, size=(6, 10, 3), dtype=np.uint8)


def test_frames_come_back_in_order_through_reused_slots(tmp_path: Path) -> None:
    ring = FrameRing(tmp_path / "ring", 3, 6, 10)
    for value in range(3):
        ring.push(_frame(value))
    assert len(ring) == 3
    with pytest.raises(RuntimeError, match="full"):
        ring.push(_frame(9))
    out = [ring.pop()]
    for value in range(3, 8):
        ring.push(_frame(value))
        out.append(ring.pop())
    out += [ring.pop(), ring.pop()]
    for value, frame in enumerate(out):
        np.testing.assert_array_equal(frame, _frame(value))
    assert (tmp_path / "ring").stat().st_size == 3 * 6 * 10 * 3  # never more than 3 frames
    with pytest.raises(RuntimeError, match="empty"):
        ring.pop()
    ring.close()
    assert not (tmp_path / "ring").exists()


def test_one_thread_pushes_while_another_pops(tmp_path: Path) -> None:
    ring = FrameRing(tmp_path / "ring", 4, 6, 10)
    ready = threading.Semaphore(0)
    free = threading.Semaphore(4)

    def produce() -> None:
        for value in range(50):
            free.acquire()
            ring.push(_frame(value))
            ready.release()

    thread = threading.Thread(target=produce)
    thread.start()
    for value in range(50):
        ready.acquire()
        np.testing.assert_array_equal(ring.pop(), _frame(value))
        free.release()
    thread.join()
    ring.close()


def test_a_frame_of_another_size_is_refused(tmp_path: Path) -> None:
    ring = FrameRing(tmp_path / "ring", 2, 6, 10)
    with pytest.raises(ValueError, match="is not"):
        ring.push(np.zeros((6, 11, 3), dtype=np.uint8))
    ring.close()


def test_a_ring_that_does_not_fit_is_disk_full_not_a_short_write(tmp_path: Path) -> None:
    import pytest
    from support.small_fs import fill, small_filesystem

    from xdub.errors import MediaError
    from xdub.media.frame_ring import FrameRing

    with small_filesystem(tmp_path / "small") as small:
        fill(small, 64 * 1024)
        with pytest.raises(MediaError) as caught:
            FrameRing(small / "frames.rgb", capacity=8, height=96, width=96)  # 221 KB
        assert caught.value.code == "disk_full" and str(small) in caught.value.message
        assert not (small / "frames.rgb").exists()

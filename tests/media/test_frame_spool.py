"""``FrameSpool``: frames by index in one file, allocated up front, deleted on close."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.small_fs import fill, small_filesystem

from xdub.errors import MediaError
from xdub.media.frame_spool import FrameSpool, spool_bytes


def _frame(value: int) -> np.ndarray:
    return np.random.default_rng(value).integers(0, 256, size=(6, 10, 3), dtype=np.uint8)


def test_frames_come_back_by_index_in_any_order(tmp_path: Path) -> None:
    with FrameSpool(tmp_path / "spool", 5, 6, 10) as spool:
        assert (tmp_path / "spool").stat().st_size == spool_bytes(5, 6, 10)  # reserved up front
        for value in (3, 0, 4, 1, 2):
            spool.write(value, _frame(value))
        for value in (2, 4, 0, 0, 3, 1):
            np.testing.assert_array_equal(spool.read(value), _frame(value))
        with pytest.raises(IndexError, match="outside"):
            spool.read(5)
        with pytest.raises(ValueError, match="is not"):
            spool.write(0, np.zeros((6, 11, 3), dtype=np.uint8))
    assert not (tmp_path / "spool").exists()


def test_an_error_in_its_block_deletes_the_file(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), FrameSpool(tmp_path / "spool", 2, 6, 10) as spool:
        spool.write(0, _frame(0))
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    spool.close()  # closing again is harmless


def test_a_spool_that_does_not_fit_is_disk_full_and_leaves_no_file(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "small") as small:
        fill(small, 64 * 1024)
        with pytest.raises(MediaError) as caught:
            FrameSpool(small / "source.rgb", 8, 96, 96, "the decoded source frames")  # 221 KB
        assert caught.value.code == "disk_full" and str(small) in caught.value.message
        assert "the decoded source frames" in caught.value.message
        assert not (small / "source.rgb").exists()

"""The 512x512 source crops of a take, in a memory-mapped file so RAM stays bounded.

The crops are the model's reference and the base of the border blend; a minute at 25 fps is
1500 crops (1.2 GB), which is why they live on disk and only the windows in use are paged in.
The file's blocks are reserved when it is made (``posix_fallocate``): a memory map over a
sparse file on a disk that fills up would die of SIGBUS, so a full disk is a ``disk_full``
error naming the folder and the size, and the file is removed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from xdub.errors import XdubError
from xdub.face.crop import CROP_SIZE
from xdub.protocol.precheck import check_free_space, disk_full_from, reserve_file

HEADER_BYTES = 128
"""Room for the ``.npy`` header (numpy pads it to a multiple of 64 bytes)."""


def crop_store_bytes(num_frames: int, size: int = CROP_SIZE) -> int:
    """The file size of a store of ``num_frames`` crops."""
    return HEADER_BYTES + num_frames * size * size * 3


class CropStore:
    """``num_frames`` crops of ``size`` x ``size`` RGB uint8 in the file ``path``."""

    def __init__(self, path: Path, num_frames: int, size: int = CROP_SIZE) -> None:
        if num_frames < 1:
            raise ValueError(f"a crop store needs at least one frame, got {num_frames}")
        self.path = Path(path)
        needed_bytes = crop_store_bytes(num_frames, size)
        what = f"the {num_frames} face crops of the clip"
        check_free_space(self.path.parent, needed_bytes, what)
        try:
            self._crops = np.lib.format.open_memmap(
                self.path, mode="w+", dtype=np.uint8, shape=(num_frames, size, size, 3)
            )
            fd = os.open(self.path, os.O_RDWR)
            try:
                reserve_file(fd, self.path, os.fstat(fd).st_size, what)
            finally:
                os.close(fd)
        except OSError as error:
            self.path.unlink(missing_ok=True)
            full = disk_full_from(error, needed_bytes, what, self.path.parent)
            if full is None:
                raise
            raise full from error
        except XdubError:
            self.path.unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        return int(self._crops.shape[0])

    def __setitem__(self, index: int, crop: np.ndarray) -> None:
        self._crops[index] = crop

    def frames(self, indices: list[int] | np.ndarray) -> np.ndarray:
        """The crops at ``indices`` as an in-memory ``(len(indices), size, size, 3)`` array."""
        return np.asarray(self._crops[np.asarray(indices, dtype=np.int64)])

    def close(self) -> None:
        """Flush and release the mapping (the file stays until its directory is removed)."""
        self._crops.flush()
        del self._crops

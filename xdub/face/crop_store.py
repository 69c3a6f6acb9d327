"""The 512x512 source crops of a take, in a memory-mapped file so RAM stays bounded.

The crops are the model's reference and the base of the border blend; a minute at 25 fps is
1500 crops (1.2 GB), which is why they live on disk and only the windows in use are paged in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xdub.face.crop import CROP_SIZE


class CropStore:
    """``num_frames`` crops of ``size`` x ``size`` RGB uint8 in the file ``path``."""

    def __init__(self, path: Path, num_frames: int, size: int = CROP_SIZE) -> None:
        if num_frames < 1:
            raise ValueError(f"a crop store needs at least one frame, got {num_frames}")
        self.path = Path(path)
        self._crops = np.lib.format.open_memmap(
            self.path, mode="w+", dtype=np.uint8, shape=(num_frames, size, size, 3)
        )

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

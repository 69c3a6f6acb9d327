"""On-disk cache of :class:`AudioFeatures`, keyed by the audio's content and the model identity.

The reference caches next to the audio file under its name (``<stem>-large-v2.npy``), so new audio
under an old name silently reuses stale features. Here the key is a SHA-256 of the 16 kHz float32
samples plus the encoder's ``identity`` (weights' names/sizes/mtimes, dtypes, feature version);
file names play no part. One ``<key>.safetensors`` file per entry (``whisper``, ``wav2vec``),
written to a temp file and ``os.replace``d, so readers never see half an entry. A hit refreshes the
entry's mtime; after each write the least recently used entries go until the total fits
``max_size_bytes``. Unreadable or inconsistent entries are deleted and treated as misses.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from xdub.audio.features import AudioEncoder, AudioFeatures
from xdub.audio.mel import check_samples

log = logging.getLogger(__name__)

DEFAULT_MAX_SIZE_BYTES = 4 * 1024**3  # one hour of audio gives 1.47 GB of features
_ENTRY_SUFFIX = ".safetensors"
_TEMP_PREFIX = ".tmp-"
_STALE_TEMP_AGE_S = 3600.0


def cache_key(samples_16k: np.ndarray, model_identity: str) -> str:
    """Hex SHA-256 of the (N,) float32 samples and the model identity."""
    samples = check_samples(samples_16k)
    digest = hashlib.sha256(f"xdub audio cache; {model_identity}; {samples.shape[0]}\n".encode())
    digest.update(samples.data)
    return digest.hexdigest()


class FeatureCache:
    """A directory of cached features with an LRU size cap (``max_size_bytes``)."""

    def __init__(self, directory: Path, *, max_size_bytes: int = DEFAULT_MAX_SIZE_BYTES) -> None:
        self.directory = Path(directory)
        self.max_size_bytes = max_size_bytes
        self.directory.mkdir(parents=True, exist_ok=True)

    def get_or_encode(self, encoder: AudioEncoder, samples_16k: np.ndarray) -> AudioFeatures:
        """Cached features of ``samples_16k`` for ``encoder``, encoding and storing on a miss."""
        key = cache_key(samples_16k, encoder.identity)
        features = self._read(key)
        if features is None:
            features = encoder.encode(samples_16k)
            self._write(key, features)
        return features

    def get(self, samples_16k: np.ndarray, model_identity: str) -> AudioFeatures | None:
        """The cached features, or None on a miss (a corrupt entry is deleted and is a miss)."""
        return self._read(cache_key(samples_16k, model_identity))

    def put(self, samples_16k: np.ndarray, model_identity: str, features: AudioFeatures) -> None:
        """Store ``features`` atomically, then evict least recently used entries over the cap."""
        self._write(cache_key(samples_16k, model_identity), features)

    def size_bytes(self) -> int:
        """Total size of the complete entries."""
        return sum(size for _, _, size in self._entries())

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}{_ENTRY_SUFFIX}"

    def _read(self, key: str) -> AudioFeatures | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as handle:
                if (handle.metadata() or {}).get("key") != key:
                    raise ValueError("entry was written under another key")
                features = AudioFeatures(
                    whisper=handle.get_tensor("whisper"), wav2vec=handle.get_tensor("wav2vec")
                )
        except (OSError, SafetensorError, ValueError) as error:
            log.warning("discarding corrupt audio feature cache entry %s: %s", path, error)
            path.unlink(missing_ok=True)
            return None
        _touch(path)
        log.debug("audio feature cache hit %s", path.name)
        return features

    def _write(self, key: str, features: AudioFeatures) -> None:
        handle, temp_name = tempfile.mkstemp(dir=self.directory, prefix=_TEMP_PREFIX)
        os.close(handle)
        try:
            tensors = {
                "whisper": features.whisper.contiguous(),
                "wav2vec": features.wav2vec.contiguous(),
            }
            save_file(tensors, temp_name, metadata={"key": key})
            os.replace(temp_name, self._path(key))
            _touch(self._path(key))
        finally:
            Path(temp_name).unlink(missing_ok=True)
        self._evict()

    def _entries(self) -> list[tuple[float, Path, int]]:
        """(mtime, path, size) of complete entries; vanished files are skipped."""
        entries = []
        for path in self.directory.glob(f"*{_ENTRY_SUFFIX}"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            entries.append((stat.st_mtime, path, stat.st_size))
        return entries

    def _evict(self) -> None:
        entries = sorted(self._entries())
        total = sum(size for _, _, size in entries)
        for _, path, size in entries:
            if total <= self.max_size_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            log.debug("evicted audio feature cache entry %s (%d bytes)", path.name, size)
        stale_before = time.time() - _STALE_TEMP_AGE_S
        for temp in self.directory.glob(f"{_TEMP_PREFIX}*"):
            try:
                if temp.stat().st_mtime < stale_before:  # left by a writer that crashed
                    temp.unlink(missing_ok=True)
            except FileNotFoundError:
                continue


def _touch(path: Path) -> None:
    """Mark an entry as just used, with the clock's full resolution (file times can be coarse)."""
    now_ns = time.time_ns()
    with contextlib.suppress(FileNotFoundError):  # evicted by another process meanwhile
        os.utime(path, ns=(now_ns, now_ns))

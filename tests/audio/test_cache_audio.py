"""FeatureCache: keyed by audio content and model identity, atomic, LRU-capped, self-healing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from xdub.audio import cache as cache_module
from xdub.audio.cache import FeatureCache, cache_key
from xdub.audio.features import (
    WAV2VEC2_IN_FOLDER,
    WHISPER_IN_FOLDER,
    AudioEncoder,
    AudioFeatures,
)
from xdub.audio.tiny import write_tiny_openai_whisper, write_tiny_wav2vec2


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> AudioEncoder:
    folder = tmp_path_factory.mktemp("models")
    write_tiny_openai_whisper(folder / WHISPER_IN_FOLDER, seed=41, n_audio_ctx=100)
    write_tiny_wav2vec2(folder / WAV2VEC2_IN_FOLDER, seed=42)
    return AudioEncoder.from_model_folder(folder)


@pytest.fixture
def counted(encoder: AudioEncoder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spy on the real encoder: the list grows by one per actual encode."""
    calls: list[int] = []
    real_encode: Callable[[np.ndarray], AudioFeatures] = encoder.encode

    def encode(samples_16k: np.ndarray) -> AudioFeatures:
        calls.append(samples_16k.shape[0])
        return real_encode(samples_16k)

    monkeypatch.setattr(encoder, "encode", encode)
    return calls


def write_wav(path: Path, seed: int, duration_s: float = 1.5) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * 16000)) / 16000
    pitch_hz = rng.uniform(100, 300)
    signal = 0.4 * np.sin(2 * np.pi * pitch_hz * t) + 0.05 * rng.standard_normal(t.shape)
    wavfile.write(path, 16000, (signal * 32767).astype(np.int16))
    return path


def read_wav(path: Path) -> np.ndarray:
    """16 kHz mono int16 PCM as float32 /32768, like the reference's ffmpeg s16le loader."""
    _, pcm = wavfile.read(path)
    return pcm.astype(np.float32) / 32768.0


def small_features(seed: int) -> AudioFeatures:
    generator = torch.Generator().manual_seed(seed)
    return AudioFeatures(
        whisper=torch.randn(50, 16, generator=generator),
        wav2vec=torch.randn(49, 8, generator=generator),
    )


def test_same_name_different_content_gives_different_features(
    encoder: AudioEncoder, counted: list[int], tmp_path: Path
) -> None:
    cache = FeatureCache(tmp_path / "cache")
    take = tmp_path / "take.wav"
    first = cache.get_or_encode(encoder, read_wav(write_wav(take, seed=1)))
    second = cache.get_or_encode(encoder, read_wav(write_wav(take, seed=2)))  # same file name
    assert len(counted) == 2
    assert not torch.allclose(first.whisper, second.whisper)
    fresh = encoder.encode(read_wav(take))
    torch.testing.assert_close(second.whisper, fresh.whisper, rtol=0, atol=0)
    torch.testing.assert_close(second.wav2vec, fresh.wav2vec, rtol=0, atol=0)


def test_same_content_under_another_name_is_a_hit(
    encoder: AudioEncoder, counted: list[int], tmp_path: Path
) -> None:
    cache = FeatureCache(tmp_path / "cache")
    original = write_wav(tmp_path / "dialogue_v1.wav", seed=3)
    renamed = shutil.copy(original, tmp_path / "final_mix.wav")
    computed = cache.get_or_encode(encoder, read_wav(original))
    hit = cache.get_or_encode(encoder, read_wav(Path(renamed)))
    assert len(counted) == 1
    torch.testing.assert_close(hit.whisper, computed.whisper, rtol=0, atol=0)
    torch.testing.assert_close(hit.wav2vec, computed.wav2vec, rtol=0, atol=0)


def test_model_identity_is_part_of_the_key(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    samples = read_wav(write_wav(tmp_path / "a.wav", seed=4))
    cache.put(samples, "model A", small_features(1))
    assert cache.get(samples, "model A") is not None
    assert cache.get(samples, "model B") is None
    assert cache_key(samples, "model A") != cache_key(samples, "model B")
    assert cache_key(samples, "model A") != cache_key(samples[:-1], "model A")


def test_corrupt_entry_is_ignored_and_rewritten(
    encoder: AudioEncoder, counted: list[int], tmp_path: Path
) -> None:
    cache = FeatureCache(tmp_path / "cache")
    samples = read_wav(write_wav(tmp_path / "a.wav", seed=5))
    expected = cache.get_or_encode(encoder, samples)
    (entry,) = (tmp_path / "cache").glob("*.safetensors")
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])  # truncated
    assert cache.get(samples, encoder.identity) is None
    assert not entry.exists()
    healed = cache.get_or_encode(encoder, samples)
    assert len(counted) == 2
    torch.testing.assert_close(healed.whisper, expected.whisper, rtol=0, atol=0)
    assert cache.get(samples, encoder.identity) is not None


def test_entry_written_under_another_key_is_rejected(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    a = read_wav(write_wav(tmp_path / "a.wav", seed=6))
    b = read_wav(write_wav(tmp_path / "b.wav", seed=7))
    cache.put(a, "m", small_features(1))
    moved = tmp_path / f"{cache_key(b, 'm')}.safetensors"
    (tmp_path / f"{cache_key(a, 'm')}.safetensors").rename(moved)
    assert cache.get(b, "m") is None
    assert not moved.exists()


def test_least_recently_used_entries_are_evicted_over_the_cap(tmp_path: Path) -> None:
    probe = FeatureCache(tmp_path / "probe")
    probe.put(np.zeros(16000, np.float32), "m", small_features(0))
    entry_size = probe.size_bytes()
    cache = FeatureCache(tmp_path / "cache", max_size_bytes=2 * entry_size + entry_size // 2)
    clips = [read_wav(write_wav(tmp_path / f"{i}.wav", seed=10 + i)) for i in range(3)]
    cache.put(clips[0], "m", small_features(0))
    cache.put(clips[1], "m", small_features(1))
    assert cache.get(clips[0], "m") is not None  # clip 0 is now the most recently used
    cache.put(clips[2], "m", small_features(2))
    assert cache.size_bytes() <= cache.max_size_bytes
    assert cache.get(clips[1], "m") is None
    assert cache.get(clips[0], "m") is not None and cache.get(clips[2], "m") is not None


def test_failed_write_leaves_neither_entry_nor_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module, "save_file", disk_full)
    cache = FeatureCache(tmp_path)
    samples = np.zeros(16000, np.float32)
    with pytest.raises(OSError, match="No space"):
        cache.put(samples, "m", small_features(0))
    assert list(tmp_path.iterdir()) == []
    assert cache.get(samples, "m") is None

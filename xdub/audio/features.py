"""Whisper + Wav2Vec2 features of a whole take, with both encoders kept resident (§2.5–2.8)."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from xdub.audio.mel import SAMPLE_RATE_HZ, check_samples, log_mel_spectrogram
from xdub.audio.wav2vec import Wav2Vec2FeatureEncoder
from xdub.audio.whisper import WhisperFeatureEncoder

log = logging.getLogger(__name__)

# Bump when the feature computation changes, so that cached features are recomputed.
FEATURE_VERSION = 1
# Where the HF bundle keeps the two encoders, relative to the model folder (reference §3.4).
WHISPER_IN_FOLDER = Path("whisper/large-v2.pt")
WAV2VEC2_IN_FOLDER = Path("wav2vec2-base-960h")


@dataclass(frozen=True)
class AudioFeatures:
    """Features of one take, both ~50 frames/s (20 ms), float32 on the CPU.

    ``whisper``: (F_w, 1280) last Whisper block before ``ln_post``, F_w = N // 320 for N samples.
    ``wav2vec``: (F_v, 768) Wav2Vec2 layer 12, F_v = (N - 80) // 320. F_v may be one less than
    F_w; the per-latent windowing clamps each stream separately, as the reference does.
    """

    whisper: Tensor
    wav2vec: Tensor

    def __post_init__(self) -> None:
        for name in ("whisper", "wav2vec"):
            value = getattr(self, name)
            if value.ndim != 2 or value.dtype != torch.float32:
                raise ValueError(
                    f"AudioFeatures.{name} must be (F, C) float32, got "
                    f"{tuple(value.shape)} {value.dtype}"
                )


class AudioEncoder:
    """Loads Whisper and Wav2Vec2 once and encodes 16 kHz waveforms into :class:`AudioFeatures`.

    Whisper runs in fp16 on CUDA (as the reference) and fp32 elsewhere unless ``whisper_dtype``
    says otherwise; Wav2Vec2 always runs in fp32. ``identity`` names the weights and settings,
    for :class:`xdub.audio.cache.FeatureCache`.
    """

    def __init__(
        self,
        whisper_path: Path,
        wav2vec2_folder: Path,
        *,
        device: torch.device | str = "cpu",
        whisper_dtype: torch.dtype | None = None,
    ) -> None:
        self.whisper = WhisperFeatureEncoder.load(whisper_path, device=device, dtype=whisper_dtype)
        self.wav2vec = Wav2Vec2FeatureEncoder.load(wav2vec2_folder, device=device)
        settings = f"whisper {self.whisper.dtype} on {torch.device(device).type}, wav2vec2 fp32"
        self.identity = model_identity([Path(whisper_path), Path(wav2vec2_folder)], settings)

    @property
    def networks(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        """The Whisper and Wav2Vec2 modules (to move them between devices)."""
        return self.whisper.encoder, self.wav2vec.model

    @classmethod
    def from_model_folder(
        cls,
        folder: Path,
        *,
        device: torch.device | str = "cpu",
        whisper_dtype: torch.dtype | None = None,
    ) -> AudioEncoder:
        """Both encoders from a model folder in the HF bundle layout."""
        folder = Path(folder)
        return cls(
            folder / WHISPER_IN_FOLDER,
            folder / WAV2VEC2_IN_FOLDER,
            device=device,
            whisper_dtype=whisper_dtype,
        )

    def encode(self, samples_16k: np.ndarray) -> AudioFeatures:
        """Features of a whole take; ``samples_16k``: (N,) float mono at 16 kHz in [-1, 1]."""
        samples = check_samples(samples_16k)
        started = time.perf_counter()
        whisper = self.whisper.encode(log_mel_spectrogram(samples))
        wav2vec = self.wav2vec.encode(samples)
        log.debug(
            "audio features for %.2f s: whisper %s, wav2vec %s in %.2f s",
            samples.shape[0] / SAMPLE_RATE_HZ,
            tuple(whisper.shape),
            tuple(wav2vec.shape),
            time.perf_counter() - started,
        )
        return AudioFeatures(whisper=whisper, wav2vec=wav2vec)


def model_identity(paths: list[Path], settings: str) -> str:
    """Hex digest of the weight files' names, sizes and mtimes, the settings and FEATURE_VERSION.

    Cheap (no weight hashing): replacing or touching a weight file changes it, moving the whole
    model folder does not.
    """
    digest = hashlib.sha256(f"xdub audio features v{FEATURE_VERSION}; {settings}".encode())
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            stat = file.stat()
            name = file.relative_to(path.parent).as_posix()
            digest.update(f"\n{name} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()

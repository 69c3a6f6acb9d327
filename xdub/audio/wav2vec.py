"""Wav2Vec2-base-960h features through transformers (reference §2.7).

A local HF folder (``wav2vec2-base-960h/``; never the Hub) gives ``Wav2Vec2Model`` and
``Wav2Vec2FeatureExtractor``. The extractor normalises the **whole** waveform to zero mean and unit
variance, then one fp32 forward gives the last layer's output (layer 12 for base; transformers'
``last_hidden_state`` equals ``hidden_states[-1]``, which the reference takes), 768-d at ~50 Hz.

Long audio is one full pass, as in the reference. It cannot be chunked exactly: the first conv
layer's GroupNorm normalises every channel over the whole time axis, the extractor normalises
over the whole waveform, and self-attention is global. Peak memory grows linearly in the length
(SDPA keeps attention linear); the conv front end (512 channels at 3.2 kHz) dominates. Measured
on the CPU, base-size structure, fp32, peak RSS above the loaded model: 0.11 GB for 5 s, 0.32 GB
for 20 s, 0.95 GB for 60 s, i.e. ~16 MB per audio second (a 10-minute take needs ~10 GB).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor
from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

from xdub.audio.mel import SAMPLE_RATE_HZ, check_samples
from xdub.errors import ModelError

log = logging.getLogger(__name__)


class Wav2Vec2FeatureEncoder:
    """Wav2Vec2 model + feature extractor; encodes a 16 kHz waveform to its last layer's output."""

    def __init__(self, model: Wav2Vec2Model, extractor: Wav2Vec2FeatureExtractor) -> None:
        self.model = model.eval().requires_grad_(False)
        self.extractor = extractor

    @classmethod
    def load(cls, folder: Path, *, device: torch.device | str = "cpu") -> Wav2Vec2FeatureEncoder:
        """Load a local transformers folder in fp32; ``ModelError`` when it is absent or broken."""
        folder = Path(folder)
        for name in ("config.json", "preprocessor_config.json"):
            if not (folder / name).is_file():
                raise ModelError(
                    f"wav2vec2 folder {folder} has no {name}",
                    hint="run `xdub models download` or `xdub models verify`",
                )
        try:
            loaded = Wav2Vec2Model.from_pretrained(
                folder, local_files_only=True, dtype=torch.float32, output_loading_info=True
            )
            extractor = Wav2Vec2FeatureExtractor.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError, RuntimeError) as error:
            raise ModelError(f"wav2vec2 folder {folder} could not be loaded: {error}") from error
        model, info = cast(tuple[Wav2Vec2Model, dict[str, Any]], loaded)
        problems = [f"missing {k}" for k in sorted(info["missing_keys"])]
        problems += [f"mismatched {k}" for k in sorted(str(m) for m in info["mismatched_keys"])]
        if problems:
            raise ModelError(
                f"wav2vec2 weights in {folder} do not match its config.json, {len(problems)} "
                f"problems: {', '.join(problems[:5])}",
                hint="re-download the folder; a file may be truncated or from another model",
            )
        if info["unexpected_keys"]:
            log.debug(
                "wav2vec2 %s: ignoring %d unused tensors (e.g. a CTC head)",
                folder,
                len(info["unexpected_keys"]),
            )
        if extractor.sampling_rate != SAMPLE_RATE_HZ:
            raise ModelError(
                f"{folder / 'preprocessor_config.json'}: sampling_rate {extractor.sampling_rate}, "
                f"expected {SAMPLE_RATE_HZ}"
            )
        return cls(model.to(device), extractor)  # type: ignore[arg-type]  # decorated .to

    @property
    def width(self) -> int:
        return int(self.model.config.hidden_size)

    @torch.no_grad()
    def encode(self, samples_16k: np.ndarray) -> Tensor:
        """Last-layer features of a whole waveform; (N,) float at 16 kHz -> (F, width) float32 CPU.

        ``F`` is the conv front end's output length (``(N - 80) // 320`` for the base strides).
        """
        samples = check_samples(samples_16k)
        inputs = self.extractor(samples, sampling_rate=SAMPLE_RATE_HZ, return_tensors="pt")
        values = inputs.input_values.to(device=self.model.device, dtype=torch.float32)
        return self.model(values).last_hidden_state[0].float().cpu()

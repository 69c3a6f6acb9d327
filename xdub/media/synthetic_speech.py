"""Speech-like test audio: formant-filtered glottal pulse trains shaped by syllable envelopes.

A ``SpeechTrack`` is a seeded schedule of syllables (phrases separated by pauses). It renders any
span of samples at any rate on demand, each syllable synthesised whole from its own seed, so the
result does not depend on how the span is chunked and a long track never sits in memory.
Its amplitude envelope is exact and doubles as the ground-truth mouth opening of the video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

VOWEL_FORMANTS_HZ: tuple[tuple[float, float, float], ...] = (
    (730.0, 1090.0, 2440.0),  # a
    (530.0, 1840.0, 2480.0),  # e
    (270.0, 2290.0, 3010.0),  # i
    (570.0, 840.0, 2410.0),  # o
    (300.0, 870.0, 2240.0),  # u
)
"""First three formants of five vowels (Peterson & Barney averages)."""

FORMANT_BANDWIDTHS_HZ = (60.0, 90.0, 120.0)
MAX_FORMANT_FRACTION_OF_RATE = 0.45
"""Formants above this fraction of the sample rate are dropped (they would alias)."""
ASPIRATION_LEVEL = 0.03
"""Breath noise relative to the voiced part."""
PEAK_LEVEL = 0.5
"""Full-scale fraction of the loudest syllable, leaving headroom for AAC."""


@dataclass(frozen=True)
class Syllable:
    """One voiced syllable: times in seconds, pitch in Hz, ``peak`` in 0..1 of full loudness."""

    start_s: float
    duration_s: float
    f0_hz: float
    f0_glide: float
    """Relative pitch change from start to end (e.g. -0.1 falls by 10 %)."""
    formants_hz: tuple[float, float, float]
    peak: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def envelope(self, times_s: np.ndarray) -> np.ndarray:
        """Amplitude at ``times_s`` (float64 seconds), 0 outside the syllable: a fast-rise hump."""
        phase = np.clip((times_s - self.start_s) / self.duration_s, 0.0, 1.0)
        return self.peak * np.sin(np.pi * np.sqrt(phase)) ** 2


@dataclass(frozen=True)
class SpeechTrack:
    """A seeded syllable schedule over ``duration_s``; no syllables means silence."""

    duration_s: float
    syllables: tuple[Syllable, ...]
    seed: int

    @classmethod
    def generate(cls, duration_s: float, seed: int) -> SpeechTrack:
        """Phrases of 2–6 syllables (120–300 ms each) separated by 250–600 ms pauses."""
        rng = np.random.default_rng(seed)
        syllables: list[Syllable] = []
        time_s = float(rng.uniform(0.05, 0.25))
        while True:
            phrase_f0_hz = float(rng.uniform(100.0, 220.0))
            for position in range(int(rng.integers(2, 7))):
                duration = float(rng.uniform(0.12, 0.30))
                if time_s + duration > duration_s:
                    return cls(duration_s, tuple(syllables), seed)
                syllables.append(
                    Syllable(
                        start_s=time_s,
                        duration_s=duration,
                        f0_hz=phrase_f0_hz * (1.0 - 0.04 * position),
                        f0_glide=float(rng.uniform(-0.15, 0.1)),
                        formants_hz=VOWEL_FORMANTS_HZ[int(rng.integers(len(VOWEL_FORMANTS_HZ)))],
                        peak=float(rng.uniform(0.5, 1.0)),
                    )
                )
                time_s += duration + float(rng.uniform(0.01, 0.06))
            time_s += float(rng.uniform(0.25, 0.6))

    @classmethod
    def silence(cls, duration_s: float) -> SpeechTrack:
        return cls(duration_s, (), seed=0)

    def num_samples(self, sample_rate_hz: int) -> int:
        return round(self.duration_s * sample_rate_hz)

    def envelope_at(self, times_s: np.ndarray) -> np.ndarray:
        """Loudness envelope in 0..1 at ``times_s`` (float64 seconds); syllables never overlap."""
        times = np.asarray(times_s, dtype=np.float64)
        total = np.zeros_like(times)
        for syllable in self.syllables:
            total += syllable.envelope(times)
        return total

    def render(self, sample_rate_hz: int, start_sample: int, num_samples: int) -> np.ndarray:
        """Mono samples ``[start_sample, start_sample + num_samples)``: (num_samples,) float32."""
        out = np.zeros(num_samples, dtype=np.float64)
        stop_sample = start_sample + num_samples
        for index, syllable in enumerate(self.syllables):
            first = math.ceil(syllable.start_s * sample_rate_hz)
            last = math.floor(syllable.end_s * sample_rate_hz)
            if last < start_sample or first >= stop_sample:
                continue
            voiced = self._syllable_samples(index, syllable, sample_rate_hz, first, last)
            lo, hi = max(first, start_sample), min(last + 1, stop_sample)
            out[lo - start_sample : hi - start_sample] = voiced[lo - first : hi - first]
        return out.astype(np.float32)

    def render_channels(
        self, sample_rate_hz: int, num_channels: int, start_sample: int, num_samples: int
    ) -> np.ndarray:
        """(num_samples, num_channels) float32; channel c is scaled by 1/(1 + c/4) to differ."""
        mono = self.render(sample_rate_hz, start_sample, num_samples)
        gains = 1.0 / (1.0 + np.arange(num_channels, dtype=np.float32) / 4.0)
        return mono[:, None] * gains[None, :]

    def _syllable_samples(
        self, index: int, syllable: Syllable, sample_rate_hz: int, first: int, last: int
    ) -> np.ndarray:
        """Samples ``first..last`` (inclusive) of one syllable, float64, peak ``PEAK_LEVEL``."""
        rng = np.random.default_rng([self.seed, index])
        times_s = np.arange(first, last + 1, dtype=np.float64) / sample_rate_hz
        progress = (times_s - syllable.start_s) / syllable.duration_s
        # Pitch glides linearly; phase (in cycles) is its integral, a pulse at each new cycle.
        cycles = syllable.f0_hz * (
            (times_s - syllable.start_s) + syllable.f0_glide * syllable.duration_s * progress**2 / 2
        )
        pulses = np.diff(np.floor(cycles), prepend=-1.0).clip(0.0, 1.0)
        source = pulses + ASPIRATION_LEVEL * rng.standard_normal(pulses.shape)
        voiced = source
        for formant_hz, bandwidth_hz in zip(
            syllable.formants_hz, FORMANT_BANDWIDTHS_HZ, strict=True
        ):
            if formant_hz < MAX_FORMANT_FRACTION_OF_RATE * sample_rate_hz:
                voiced = _resonate(voiced, formant_hz, bandwidth_hz, sample_rate_hz)
        voiced = voiced - voiced.mean()
        scale = PEAK_LEVEL / max(float(np.abs(voiced).max()), 1e-12)
        return voiced * scale * syllable.envelope(times_s)


def _resonate(
    signal: np.ndarray, centre_hz: float, bandwidth_hz: float, sample_rate_hz: int
) -> np.ndarray:
    """A two-pole resonator (one formant) with unit gain at its centre frequency."""
    radius = math.exp(-math.pi * bandwidth_hz / sample_rate_hz)
    angle = 2.0 * math.pi * centre_hz / sample_rate_hz
    denominator = [1.0, -2.0 * radius * math.cos(angle), radius * radius]
    gain = abs(np.polyval(denominator[::-1], np.exp(-1j * angle)))
    return np.asarray(lfilter([gain], denominator, signal))

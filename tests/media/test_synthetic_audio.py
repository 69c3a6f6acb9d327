"""Synthetic speech and the audio writer, read back with plain PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from xdub.errors import MediaError
from xdub.media.audio_writer import write_audio_file
from xdub.media.synthetic import AudioSpec, write_synthetic_audio
from xdub.media.synthetic_speech import SpeechTrack


def read_back(path: Path) -> tuple[np.ndarray, int, str]:
    """(samples (N, C) float32, sample rate, codec name), decoded by PyAV as float planes."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        planes = [frame.to_ndarray() for frame in container.decode(stream)]
        rate, codec = stream.codec_context.sample_rate, stream.codec_context.name
        channels = stream.codec_context.layout.nb_channels
    data = np.concatenate(planes, axis=1)
    if data.shape[0] == 1 and channels > 1:  # packed (interleaved) formats come as one row
        data = data.reshape(-1, channels).T
    scale = 32768.0 if data.dtype == np.int16 else 1.0
    return (data.T / scale).astype(np.float32), rate, codec


@pytest.mark.parametrize(("sample_rate_hz", "num_channels"), [(16000, 1), (48000, 2), (44100, 6)])
def test_wav_has_the_asked_rate_channels_and_exact_length(
    tmp_path: Path, sample_rate_hz: int, num_channels: int
):
    speech = SpeechTrack.generate(1.3, seed=4)
    path = tmp_path / "speech.wav"
    write_synthetic_audio(path, speech, AudioSpec(sample_rate_hz, num_channels))
    samples, rate, codec = read_back(path)
    assert (rate, codec) == (sample_rate_hz, "pcm_s16le")
    assert samples.shape == (round(1.3 * sample_rate_hz), num_channels)
    expected = speech.render_channels(sample_rate_hz, num_channels, 0, samples.shape[0])
    np.testing.assert_allclose(samples, expected, atol=1.0 / 32768)  # one 16-bit step


@pytest.mark.parametrize(("sample_rate_hz", "num_channels"), [(48000, 2), (22050, 1)])
def test_m4a_is_aac_with_the_asked_rate_channels_and_length(
    tmp_path: Path, sample_rate_hz: int, num_channels: int
):
    speech = SpeechTrack.generate(1.0, seed=6)
    path = tmp_path / "speech.m4a"
    write_synthetic_audio(path, speech, AudioSpec(sample_rate_hz, num_channels))
    samples, rate, codec = read_back(path)
    assert (rate, codec, samples.shape[1]) == (sample_rate_hz, "aac", num_channels)
    # AAC codes whole 1024-sample frames; the container trims priming, so at most one extra.
    assert sample_rate_hz <= samples.shape[0] <= sample_rate_hz + 1024
    reference = speech.render_channels(sample_rate_hz, num_channels, 0, sample_rate_hz)
    correlation = np.corrcoef(samples[:sample_rate_hz, 0], reference[:, 0])[0, 1]
    assert correlation > 0.95  # lossy, but sample-aligned


def test_silence_writes_zeros(tmp_path: Path):
    path = tmp_path / "silence.wav"
    write_synthetic_audio(path, SpeechTrack.silence(0.5), AudioSpec(16000, 2))
    samples, _, _ = read_back(path)
    assert samples.shape == (8000, 2) and not samples.any()


def test_same_seed_gives_identical_bytes(tmp_path: Path):
    spec = AudioSpec(24000, 2)
    write_synthetic_audio(tmp_path / "a.wav", SpeechTrack.generate(0.8, seed=9), spec)
    write_synthetic_audio(tmp_path / "b.wav", SpeechTrack.generate(0.8, seed=9), spec)
    write_synthetic_audio(tmp_path / "c.wav", SpeechTrack.generate(0.8, seed=10), spec)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert (tmp_path / "a.wav").read_bytes() != (tmp_path / "c.wav").read_bytes()


def test_rendering_does_not_depend_on_chunking():
    speech = SpeechTrack.generate(2.0, seed=1)
    whole = speech.render(16000, 0, 32000)
    chunked = np.concatenate([speech.render(16000, start, 777) for start in range(0, 32000, 777)])
    np.testing.assert_array_equal(whole, chunked[:32000])


def test_speech_is_voiced_with_a_plausible_pitch_and_follows_its_envelope():
    rate_hz = 16000
    speech = SpeechTrack.generate(3.0, seed=2)
    samples = speech.render(rate_hz, 0, speech.num_samples(rate_hz)).astype(np.float64)
    assert len(speech.syllables) >= 6
    assert 0.2 < np.abs(samples).max() <= 0.5 + 1e-6

    # Energy per 40 ms frame tracks the envelope; silence between syllables is exact.
    hop = rate_hz // 25
    frames = samples[: len(samples) // hop * hop].reshape(-1, hop)
    rms = np.sqrt((frames**2).mean(axis=1))
    envelope = speech.envelope_at((np.arange(len(rms)) + 0.5) * hop / rate_hz)
    assert np.corrcoef(rms, envelope)[0, 1] > 0.85
    assert not samples[: int(speech.syllables[0].start_s * rate_hz)].any()

    # The loudest syllable repeats at its pitch period (autocorrelation peak).
    syllable = max(speech.syllables, key=lambda s: s.peak)
    middle = samples[
        int((syllable.start_s + 0.2 * syllable.duration_s) * rate_hz) : int(
            (syllable.start_s + 0.6 * syllable.duration_s) * rate_hz
        )
    ]
    lags = np.arange(rate_hz // 400, rate_hz // 60)
    autocorrelation = [np.dot(middle[:-lag], middle[lag:]) for lag in lags]
    pitch_hz = rate_hz / lags[int(np.argmax(autocorrelation))]
    assert pitch_hz == pytest.approx(syllable.f0_hz, rel=0.2)

    # Formant-shaped: almost all energy below 4 kHz.
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    frequencies = np.fft.rfftfreq(len(samples), 1.0 / rate_hz)
    assert spectrum[frequencies < 4000].sum() > 0.97 * spectrum.sum()


def test_channels_differ_by_their_gain():
    speech = SpeechTrack.generate(0.5, seed=3)
    stereo = speech.render_channels(16000, 2, 0, 8000)
    np.testing.assert_allclose(stereo[:, 1], stereo[:, 0] * 0.8, rtol=1e-6)  # float32 product


def test_unsupported_audio_suffix_is_a_media_error(tmp_path: Path):
    with pytest.raises(MediaError) as caught:
        write_audio_file(tmp_path / "speech.ogg", [], 16000, 1)
    assert caught.value.code == "bad_audio_path"

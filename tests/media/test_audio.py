"""load_audio() and fit_audio_length(): any file's audio as 16 kHz mono float32."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from xdub.errors import MediaError
from xdub.media.audio import fit_audio_length, load_audio
from xdub.media.synthetic import AudioSpec, SyntheticClip, write_synthetic_audio
from xdub.media.synthetic_speech import SpeechTrack

MakeClip = Callable[..., SyntheticClip]


def test_16k_mono_wav_loads_unchanged(tmp_path: Path):
    speech = SpeechTrack.generate(1.5, seed=1)
    path = tmp_path / "speech.wav"
    write_synthetic_audio(path, speech, AudioSpec(16000, 1))
    samples = load_audio(path)
    assert samples.dtype == np.float32 and samples.shape == (24000,)
    np.testing.assert_allclose(samples, speech.render(16000, 0, 24000), atol=1 / 32768)  # s16


def test_stereo_48k_is_downmixed_and_resampled_to_16k_mono(tmp_path: Path):
    speech = SpeechTrack.generate(2.0, seed=2)
    path = tmp_path / "stereo.wav"
    write_synthetic_audio(path, speech, AudioSpec(48000, 2))
    samples = load_audio(path)
    assert samples.shape == (32000,)
    stereo = speech.render_channels(48000, 2, 0, 96000).astype(np.float64)
    expected = resample_poly(stereo.mean(axis=1), up=1, down=3)
    # Different (equally valid) low-pass filters: libswresample vs scipy's Kaiser window.
    np.testing.assert_allclose(samples, expected, atol=2e-2)
    assert np.corrcoef(samples, expected)[0, 1] > 0.999


def test_aac_m4a_loads_at_its_length(tmp_path: Path):
    speech = SpeechTrack.generate(1.0, seed=3)
    path = tmp_path / "speech.m4a"
    write_synthetic_audio(path, speech, AudioSpec(44100, 2))
    samples = load_audio(path)
    assert samples.shape == (16000,)  # the container's stated length, padding dropped
    reference = resample_poly(speech.render(44100, 0, 44100).astype(np.float64), 160, 441)
    assert np.corrcoef(samples, reference)[0, 1] > 0.95  # lossy AAC, sample-aligned


def test_audio_track_of_a_video_loads(make_clip: MakeClip):
    clip = make_clip(duration_s=1.0, audio=AudioSpec(48000, 2), seed=4)
    samples = load_audio(clip.path)
    assert samples.shape == (16000,)
    speech = clip.spec.speech()
    reference = resample_poly(speech.render(48000, 0, 48000).astype(np.float64), 1, 3) * 0.9
    assert np.corrcoef(samples, reference)[0, 1] > 0.95


@pytest.mark.parametrize("name", ["stereo44k.wav", "in_video.mp4"])
def test_matches_the_reference_ffmpeg_loader_bit_exactly(
    tmp_path: Path, make_clip: MakeClip, name: str
):
    """The reference runs ``ffmpeg -ac 1 -ar 16000 -f s16le`` and divides by 32768."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    if name.endswith(".wav"):
        path = tmp_path / name
        write_synthetic_audio(path, SpeechTrack.generate(1.0, seed=5), AudioSpec(44100, 2))
    else:
        path = make_clip(name, duration_s=1.0, audio=AudioSpec(48000, 2)).path
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path)]
    command += ["-vn", "-ac", "1", "-ar", "16000", "-f", "s16le", "-"]
    raw = subprocess.run(command, check=True, capture_output=True).stdout
    reference = np.frombuffer(raw, np.int16).astype(np.float32) / 32768
    np.testing.assert_array_equal(load_audio(path), reference)


def test_other_sample_rates(tmp_path: Path):
    path = tmp_path / "speech.wav"
    write_synthetic_audio(path, SpeechTrack.generate(0.5, seed=6), AudioSpec(22050, 1))
    assert load_audio(path, sample_rate_hz=8000).shape == (4000,)


def test_video_without_audio_is_a_clear_error(make_clip: MakeClip):
    clip = make_clip()
    with pytest.raises(MediaError) as caught:
        load_audio(clip.path)
    assert caught.value.code == "no_audio" and clip.path.name in str(caught.value)


def test_unreadable_audio_file(tmp_path: Path):
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF" + b"\x00" * 64)
    with pytest.raises(MediaError) as caught:
        load_audio(path)
    assert caught.value.code == "unreadable_media"


def test_fit_audio_length_pads_trims_and_flags():
    samples = np.arange(1, 6, dtype=np.float32)
    same, changed = fit_audio_length(samples, 5)
    assert same is samples and not changed
    trimmed, changed = fit_audio_length(samples, 3)
    assert changed and trimmed.tolist() == [1, 2, 3]
    padded, changed = fit_audio_length(samples, 8)
    assert changed and padded.tolist() == [1, 2, 3, 4, 5, 0, 0, 0]
    assert padded.dtype == np.float32

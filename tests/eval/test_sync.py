"""The weight-free sync measure on the synthetic kit's truth: offsets, confidence, silence."""

from __future__ import annotations

import numpy as np
import pytest

from xdub.eval.mouth import mouth_opening, truth_faces, truth_track
from xdub.eval.sync import estimate_offset, speech_envelope, sync_over_time
from xdub.media.audio import load_audio

RATE_HZ = 16000


def _shifted(samples: np.ndarray, frames: int, fps: float = 25.0) -> np.ndarray:
    """The audio delayed by ``frames`` video frames (negative: advanced), same length."""
    n = round(frames * RATE_HZ / fps)
    if n >= 0:
        return np.concatenate([np.zeros(n, samples.dtype), samples])[: len(samples)]
    return np.concatenate([samples[-n:], np.zeros(-n, samples.dtype)])


@pytest.fixture(scope="module")
def truth(talking_clip):
    faces = truth_faces(talking_clip.truth)
    return truth_track(talking_clip.truth), faces


def test_mouth_opening_from_the_drawn_landmarks_follows_the_true_opening(truth) -> None:
    track, faces = truth
    true_open = np.array([face.mouth_open for face in faces])
    assert np.corrcoef(track.opening, true_open)[0, 1] > 0.999
    assert track.boxes.shape == (len(faces), 4)


def test_a_mouth_that_follows_its_audio_has_offset_0_and_high_confidence(
    talking_clip, truth
) -> None:
    track, _ = truth
    times = np.arange(len(track.opening)) / 25.0
    for audio in (talking_clip.dialogue, talking_clip.video):  # the WAV and the muxed AAC
        estimate = estimate_offset(
            track.opening, speech_envelope(load_audio(audio), RATE_HZ, times)
        )
        assert estimate.offset_frames == 0
        assert estimate.confidence > 0.8


@pytest.mark.parametrize("shift_frames", [3, -5])
def test_shifted_audio_gives_that_offset(talking_clip, truth, shift_frames: int) -> None:
    track, _ = truth
    times = np.arange(len(track.opening)) / 25.0
    audio = _shifted(load_audio(talking_clip.dialogue), shift_frames)
    estimate = estimate_offset(track.opening, speech_envelope(audio, RATE_HZ, times))
    assert estimate.offset_frames == shift_frames  # positive: the audio lags
    assert estimate.confidence > 0.8


def test_silence_gives_low_confidence(talking_clip, truth) -> None:
    track, _ = truth
    times = np.arange(len(track.opening)) / 25.0
    silence = np.zeros_like(load_audio(talking_clip.dialogue))
    estimate = estimate_offset(track.opening, speech_envelope(silence, RATE_HZ, times))
    assert estimate.confidence < 0.1


def test_unrelated_speech_scores_far_below_the_matching_speech(talking_clip, truth) -> None:
    from xdub.media.synthetic_speech import SpeechTrack

    track, _ = truth
    times = np.arange(len(track.opening)) / 25.0
    other = SpeechTrack.generate(4.0, seed=11).render(RATE_HZ, 0, 4 * RATE_HZ)
    unrelated = estimate_offset(track.opening, speech_envelope(other, RATE_HZ, times))
    assert unrelated.confidence < 0.5


def test_sync_over_time_finds_the_offset_in_every_window(talking_clip, truth) -> None:
    track, _ = truth
    times = np.arange(len(track.opening)) / 25.0
    audio = _shifted(load_audio(talking_clip.dialogue), 3)
    series = sync_over_time(track.opening, speech_envelope(audio, RATE_HZ, times))
    speaking = series.confidence > 0.5
    assert speaking.sum() >= len(series.confidence) // 2
    assert set(series.offset_frames[speaking].tolist()) == {3}


def test_mouth_opening_is_scale_free() -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 100, size=(4, 68, 2))
    assert np.allclose(mouth_opening(points), mouth_opening(points * 3.0 + 7.0))


def test_media_sample_truth_feeds_the_sync_measure(tmp_path) -> None:
    from xdub.cli import main

    video, truth, line = tmp_path / "c.mp4", tmp_path / "c.json", tmp_path / "c.wav"
    args = ["media", "sample", str(video), "--duration-s", "2", "--seed", "5"]
    assert main([*args, "--truth", str(truth), "--audio", str(line)]) == 0
    track = truth_track(truth)
    assert len(track.opening) == 50
    times = np.arange(50) / 25.0
    estimate = estimate_offset(track.opening, speech_envelope(load_audio(line), RATE_HZ, times))
    assert estimate.offset_frames == 0 and estimate.confidence > 0.5

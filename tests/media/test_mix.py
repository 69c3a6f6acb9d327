"""Rendering a dialogue span (clips with source ranges, gaps) to one buffer and a WAV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xdub.errors import MediaError
from xdub.job.timeline import DialogueSegment, plan_dialogue_span
from xdub.media.audio import load_audio
from xdub.media.audio_writer import write_audio_file
from xdub.media.mix import render_dialogue, write_dialogue_wav

RATE_HZ = 48000


def _tone(path: Path, frequency_hz: float, duration_s: float, rate_hz: int) -> Path:
    t = np.arange(round(duration_s * rate_hz)) / rate_hz
    samples = (0.5 * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)
    write_audio_file(path, [samples[:, None]], rate_hz, 1)
    return path


@pytest.fixture
def span(tmp_path: Path):
    first = _tone(tmp_path / "a.wav", 440.0, 1.0, RATE_HZ)
    second = _tone(tmp_path / "b.wav", 300.0, 0.5, 16000)  # another rate: resampled
    segments = [
        DialogueSegment(second, source_start_s=0.0, duration_s=0.3, offset_s=0.8),
        DialogueSegment(first, source_start_s=0.25, duration_s=0.5, offset_s=0.1),
    ]
    return plan_dialogue_span(segments, duration_s=1.5)


def _at(seconds: float) -> int:
    return round(seconds * RATE_HZ)


def test_segments_are_placed_at_their_offsets_and_gaps_are_silent(span) -> None:
    mixed = render_dialogue(span, RATE_HZ)
    first = load_audio(span.segments[0].path, RATE_HZ)
    second = load_audio(span.segments[1].path, RATE_HZ)
    assert mixed.shape == (_at(1.5),) and mixed.dtype == np.float32
    np.testing.assert_array_equal(mixed[_at(0.1) : _at(0.6)], first[_at(0.25) : _at(0.75)])
    np.testing.assert_array_equal(mixed[_at(0.8) : _at(1.1)], second[: _at(0.3)])
    for gap in span.gaps:
        assert not mixed[_at(gap.offset_s) : _at(gap.offset_s + gap.duration_s)].any()
    assert np.abs(mixed).max() > 0.4


def test_wav_holds_the_rendered_span(span, tmp_path: Path) -> None:
    path = write_dialogue_wav(span, tmp_path / "dialogue.wav", RATE_HZ)
    # atol: one 16-bit step; the WAV is 16-bit PCM and the render is already 16-bit-quantised.
    np.testing.assert_allclose(
        load_audio(path, RATE_HZ), render_dialogue(span, RATE_HZ), atol=1 / 32768
    )
    assert not list(tmp_path.glob(".*tmp*"))


def test_a_range_past_the_file_is_a_media_error(span, tmp_path: Path) -> None:
    path = span.segments[0].path
    late = plan_dialogue_span([DialogueSegment(path, 5.0, 0.5, 0.0)], duration_s=1.0)
    with pytest.raises(MediaError, match="starts at 5.000 s"):
        render_dialogue(late, RATE_HZ)

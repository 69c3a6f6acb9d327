"""Length rounding, clip starts, stitched latent counts and ping-pong re-indexing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xdub.errors import MediaError
from xdub.sample.windows import WindowPlan, audio_frame_count, num_latent_frames, pingpong_indices


@pytest.fixture(scope="module")
def lengths(golden_dir: Path) -> dict:
    return json.loads((golden_dir / "lengths.json").read_text())


def test_audio_lengths_plan_like_the_reference(lengths: dict) -> None:
    plan = WindowPlan()
    assert lengths["audio"]
    for entry in lengths["audio"]:
        num_frames = audio_frame_count(entry["num_samples_16k"])
        total = plan.total_length(num_frames)
        num_clips = plan.num_clips(total)
        got = (num_frames, total, num_clips, plan.clip_starts(total))
        want = (
            entry["audio_frame_len"],
            entry["total_length"],
            entry["num_clips"],
            entry["clip_start_idx"],
        )
        assert got == want, entry["num_samples_16k"]
        assert plan.stitched_latent_frames(num_clips) == entry["num_latents_after_stitch"]
        # The stitched latents decode to exactly the planned frames.
        assert (plan.stitched_latent_frames(num_clips) - 1) * 4 + 1 == total


def test_python_float_quirk_rounds_some_exact_multiples_up() -> None:
    # README §7: 4480/16000*25 evaluates to 7.000000000000001 in Python floats.
    assert audio_frame_count(4480) == 8
    assert audio_frame_count(6400) == 10


def test_pingpong_indices_match_the_reference(lengths: dict) -> None:
    assert lengths["pingpong"]
    for entry in lengths["pingpong"]:
        got = pingpong_indices(entry["n_video"], entry["target_length"])
        assert got == entry["indices"], (entry["n_video"], entry["target_length"])


def test_released_layout() -> None:
    plan = WindowPlan()
    assert (plan.stride, plan.clip_latent_frames, plan.motion_latent_frames) == (72, 20, 2)
    assert num_latent_frames(77) == 20 and num_latent_frames(1) == 1


def test_empty_video_is_a_media_error() -> None:
    with pytest.raises(MediaError) as caught:
        pingpong_indices(0, 77)
    assert caught.value.code == "no_frames"

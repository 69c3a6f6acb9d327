"""Replay the reference multi-clip loop stage by stage with the sampler pieces.

The model outputs are taken from the golden files (the sampler never runs the model), so every
other stage must reproduce the float32 reference bit for bit: timesteps, border sigma, border
ring, guidance scales, CFG mix, Euler step, motion re-injection, final borders, motion-frame
colour correction and stitching.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from xdub.sample.color import color_correction
from xdub.sample.denoise import SamplerSettings, denoise_window
from xdub.sample.guidance import GuidanceScales, guided_velocity
from xdub.sample.latents import (
    border_sigma,
    impose_motion_latents,
    stitch_clips,
)
from xdub.sample.schedule import flow_sigmas, model_timestep, timesteps
from xdub.sample.windows import WindowPlan, audio_frame_count, pingpong_indices


@pytest.fixture(scope="module")
def config(golden_dir: Path) -> dict:
    return json.loads((golden_dir / "loop_config.json").read_text())


@pytest.fixture(scope="module")
def clips(golden_dir: Path, config: dict) -> list[dict[str, torch.Tensor]]:
    return [load_file(golden_dir / f"loop_clip{k}.safetensors") for k in range(config["num_clips"])]


def _plan(config: dict) -> WindowPlan:
    return WindowPlan(config["clip_num_frames"], config["motion_num_frames"])


def test_lengths_of_the_run(config: dict) -> None:
    plan = _plan(config)
    total = plan.total_length(audio_frame_count(config["audio_num_samples_16k"]))
    assert total == config["total_length"]
    assert plan.num_clips(total) == config["num_clips"]
    assert plan.clip_starts(total) == [clip["start_idx"] for clip in config["clips"]]
    assert pingpong_indices(config["n_video_frames"], total) == config["pingpong_indices"]
    assert plan.motion_latent_frames == config["motion_latents_num_frames"]


class StoredVelocity:
    """Stands in for the model: checks each step's input and returns the stored velocity."""

    def __init__(self, config: dict, clip: dict, where: str) -> None:
        self.clip, self.where, self.step = clip, where, 0
        self.scales = GuidanceScales(
            config["ref_cfg_scale"], config["audio_cfg_scale"], config["use_dynamic_cfg"]
        )

    def __call__(self, latents: torch.Tensor, model_t: torch.Tensor) -> torch.Tensor:
        step, clip, where = self.step, self.clip, f"{self.where} step {self.step}"
        assert torch.equal(model_t, clip[f"step{step}_timestep"]), where
        assert torch.equal(border_sigma(model_t), clip[f"step{step}_border_sigma"]), where
        assert torch.equal(latents, clip[f"step{step}_latents_model_in"]), where
        s_r, s_a = self.scales.at(model_t)
        assert torch.equal(torch.as_tensor(s_r), clip[f"step{step}_ref_scale"]), where
        assert torch.equal(torch.as_tensor(s_a), clip[f"step{step}_audio_scale"]), where
        velocity = clip[f"step{step}_noise_pred_cfg"]
        if f"step{step}_noise_pred_branches" in clip:
            mixed = guided_velocity(clip[f"step{step}_noise_pred_branches"], s_r, s_a)
            assert torch.equal(mixed, velocity), where
        self.step += 1
        return velocity


def test_every_clip_replays_exactly(config: dict, clips: list) -> None:
    noise = clips[0]["noise"]  # the same seed, hence the same noise, for every clip
    for clip_config, clip in zip(config["clips"], clips, strict=True):
        where = f"clip {clip_config['start_idx']}"
        motion = clip.get("motion_latents")
        assert (motion is not None) == clip_config["use_motion_latents"], where
        assert clip_config["border_width"] == [config["replace_border_latents_width"]] * len(
            clip_config["border_width"]
        ), where
        settings = SamplerSettings(
            num_steps=config["num_inference_steps"],
            shift=config["sigma_shift"],
            border_width=config["replace_border_latents_width"],
            guidance=GuidanceScales(
                config["ref_cfg_scale"], config["audio_cfg_scale"], config["use_dynamic_cfg"]
            ),
        )
        start_frame = config["motion_latents_num_frames"] if motion is not None else 0
        assert set(clip_config["border_start_frame"]) == {start_frame}, where
        initial = noise if motion is None else impose_motion_latents(noise, motion)
        assert torch.equal(initial, clip["step0_latents_pre_border"]), where
        velocity = StoredVelocity(config, clip, where)
        final = denoise_window(velocity, noise, clip["ref_latents"], motion, settings)
        assert velocity.step == config["num_inference_steps"], where
        assert torch.equal(final, clip["final_latents"]), where


def test_motion_frames_are_the_colour_corrected_tail(golden_dir: Path, config, clips) -> None:
    plan = _plan(config)
    ref_video = load_file(golden_dir / "loop_inputs.safetensors")["ref_video"]
    ref_video = ref_video[config["pingpong_indices"]]
    for clip_config, clip, following in zip(config["clips"], clips, clips[1:], strict=False):
        clip_end = clip_config["start_idx"] + plan.clip_num_frames
        source_tail = ref_video[clip_end - plan.motion_num_frames : clip_end]
        # Colour correction is per frame, so the last 5 frames can be corrected alone: exact.
        motion_video = color_correction(clip["decoded_last5"], source_tail)
        assert torch.equal(motion_video, following["motion_video"]), clip_config["start_idx"]


def test_stitched_latents_and_boundaries(golden_dir: Path, config, clips) -> None:
    plan = _plan(config)
    final = load_file(golden_dir / "loop_final.safetensors")
    stitched = stitch_clips([clip["final_latents"] for clip in clips], plan.motion_latent_frames)
    assert stitched.shape[2] == plan.stitched_latent_frames(len(clips))
    assert torch.equal(stitched, final["stitched_latents"])
    new_per_clip = plan.clip_latent_frames - plan.motion_latent_frames
    for j, (prev, cur) in enumerate(zip(clips, clips[1:], strict=False)):
        assert torch.equal(prev["final_latents"][:, :, -1:], final[f"transition{j}_prev_last"])
        motion_index = plan.motion_latent_frames - 1
        cur_boundary = cur["final_latents"][:, :, motion_index : motion_index + 1]
        assert torch.equal(cur_boundary, final[f"transition{j}_cur_1"])
        at = plan.clip_latent_frames - 1 + j * new_per_clip
        assert torch.equal(stitched[:, :, at : at + 1], final[f"transition{j}_boundary"]), j


def test_bf16_run_saw_the_bf16_timesteps(golden_dir: Path, config: dict) -> None:
    bf16_run = load_file(golden_dir / "loop_bf16.safetensors")
    table = timesteps(flow_sigmas(config["num_inference_steps"], config["sigma_shift"]))
    seen = torch.cat([model_timestep(t, torch.bfloat16) for t in table]).float()
    for k in range(config["num_clips"]):
        assert torch.equal(seen, bf16_run[f"clip{k}_timesteps_bf16"]), k

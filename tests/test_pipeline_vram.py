"""The VRAM policies through a whole take: each stage has exactly its networks on the device,
nothing is left there afterwards, and the take is the same under every policy.

On this CPU-only machine the compute device is the CPU, so moves cost nothing; where the
weights go under each policy is checked on the meta device in ``tests/weights/test_residency.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from torch import nn

from xdub.job.options import Codec, DubOptions
from xdub.media.decode import iter_frames
from xdub.media.synthetic import (
    AudioSpec,
    SpeechTrack,
    SyntheticVideoSpec,
    write_synthetic_audio,
    write_synthetic_video,
)
from xdub.pipeline import DubPipeline
from xdub.protocol.records import Progress, Stage, VramPolicy

OPTIONS = DubOptions(codec=Codec.H264, num_steps=2)
NETWORK_GROUPS = {
    VramPolicy.OFFLOAD: {
        "detector": {"face"},
        "whisper": {"audio"},
        "dit": {"dit", "vae"},
        "vae_decoder": {"dit", "vae"},
    },
    VramPolicy.LOW_VRAM: {
        "detector": {"face"},
        "whisper": {"audio"},
        "dit": {"dit", "vae"},
        "vae_decoder": {"vae"},
    },
}
"""What must be on the device whenever a network runs. Under ``offload`` the VAE decodes
window k - 1 while window k denoises, so the decoder runs beside the DiT's group; under
``low_vram`` (minimum VRAM) each window decodes after the DiT has gone home."""


def _networks(pipeline: DubPipeline) -> dict[str, nn.Module]:
    models = pipeline.models
    return {
        "detector": models.face.detector,
        "whisper": models.audio.networks[0],
        "dit": models.dit,
        "vae_decoder": models.vae.module.model.decoder,
    }


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("vram")
    video, dialogue = folder / "clip.mp4", folder / "dialogue.wav"
    write_synthetic_video(video, SyntheticVideoSpec(width=128, height=96, duration_s=0.8, seed=5))
    write_synthetic_audio(dialogue, SpeechTrack.generate(0.8, seed=6), AudioSpec(48000, 1))
    return video, dialogue


def _frames(path: Path) -> list[np.ndarray]:
    return [frame.rgb for frame in iter_frames(path)]


@pytest.fixture(scope="module")
def resident_take(
    tiny_model_dir: Path, media: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> list[np.ndarray]:
    pipeline = DubPipeline(tiny_model_dir, device="cpu", precision="fp32")
    output = tmp_path_factory.mktemp("resident") / "take.mp4"
    pipeline.run(*media, output, OPTIONS)
    assert pipeline.models.residency.on_device == {"face", "audio", "dit", "vae"}
    return _frames(output)


@pytest.mark.parametrize("policy", [VramPolicy.OFFLOAD, VramPolicy.LOW_VRAM])
def test_each_stage_holds_only_its_networks_and_the_take_is_unchanged(
    policy: VramPolicy,
    tiny_model_dir: Path,
    media: tuple[Path, Path],
    resident_take: list[np.ndarray],
    tmp_path: Path,
) -> None:
    pipeline = DubPipeline(tiny_model_dir, device="cpu", precision="fp32", vram_policy=policy)
    residency = pipeline.models.residency
    assert residency.on_device == frozenset()
    seen: dict[str, set[frozenset[str]]] = {}
    streamed: set[int] = set()

    def watch(name: str) -> Callable[..., None]:
        return lambda *_: seen.setdefault(name, set()).add(residency.on_device)

    for name, network in _networks(pipeline).items():
        network.register_forward_pre_hook(watch(name))

    def on_progress(progress: Progress) -> None:
        if progress.stage is Stage.DENOISE and progress.step > 0:
            streamed.add(residency.streamed_on_device)

    pipeline.run(*media, tmp_path / "take.mp4", OPTIONS, on_progress=on_progress)
    assert seen == {name: {frozenset(groups)} for name, groups in NETWORK_GROUPS[policy].items()}
    num_blocks = len(pipeline.models.dit.blocks)
    assert streamed == ({0} if policy is VramPolicy.LOW_VRAM else {num_blocks})
    assert residency.on_device == frozenset()
    take = _frames(tmp_path / "take.mp4")
    assert all(np.array_equal(a, b) for a, b in zip(take, resident_take, strict=True))


def test_the_policy_changes_between_takes(
    tiny_model_dir: Path, media: tuple[Path, Path], resident_take: list[np.ndarray], tmp_path: Path
) -> None:
    pipeline = DubPipeline(tiny_model_dir, device="cpu", precision="fp32")
    pipeline.models.residency.set_policy(VramPolicy.LOW_VRAM)
    pipeline.run(*media, tmp_path / "low.mp4", OPTIONS)
    assert pipeline.models.residency.on_device == frozenset()
    pipeline.models.residency.set_policy(VramPolicy.RESIDENT)
    assert pipeline.models.residency.on_device == {"face", "audio", "dit", "vae"}
    assert all(
        np.array_equal(a, b)
        for a, b in zip(_frames(tmp_path / "low.mp4"), resident_take, strict=True)
    )

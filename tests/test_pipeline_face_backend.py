"""The landmark backend through a whole take: OpenMMLab, where installed, tracks the same face
boxes as the builtin networks; without it, asking for it fails clearly before any work."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from xdub.errors import ModelError
from xdub.job.options import Codec, DubOptions
from xdub.media.synthetic import (
    AudioSpec,
    SpeechTrack,
    SyntheticVideoSpec,
    write_synthetic_audio,
    write_synthetic_video,
)
from xdub.pipeline import DubPipeline

HAS_OPENMMLAB = all(importlib.util.find_spec(name) for name in ("mmdet", "mmpose"))


def test_openmmlab_without_it_is_refused_with_a_hint(tiny_model_dir: Path) -> None:
    if HAS_OPENMMLAB:
        pytest.skip("OpenMMLab is installed here")
    with pytest.raises(ModelError) as caught:
        DubPipeline(tiny_model_dir, device="cpu", face_backend="openmmlab")
    assert caught.value.code == "backend_unavailable" and caught.value.hint


@pytest.mark.skipif(not HAS_OPENMMLAB, reason="needs mmdet + mmpose (see docs/models.md)")
# mmdet/mmpose CSP layers call the deprecated torch.cuda.amp.autocast.
@pytest.mark.filterwarnings(r"ignore:`torch\.cuda\.amp\.autocast:FutureWarning:mm(det|pose)\.")
# mmdet's prior generator calls torch.meshgrid without indexing=.
@pytest.mark.filterwarnings("ignore:torch.meshgrid:UserWarning:torch.functional")
def test_openmmlab_tracks_the_same_boxes_as_builtin(tiny_model_dir: Path, tmp_path: Path) -> None:
    video, dialogue = tmp_path / "clip.mp4", tmp_path / "dialogue.wav"
    write_synthetic_video(video, SyntheticVideoSpec(width=160, height=120, duration_s=0.8, seed=4))
    write_synthetic_audio(dialogue, SpeechTrack.generate(0.8, seed=2), AudioSpec())
    boxes = {}
    for backend in ("builtin", "openmmlab"):
        pipeline = DubPipeline(tiny_model_dir, device="cpu", face_backend=backend)
        result = pipeline.run(
            video, dialogue, tmp_path / f"{backend}.mp4", DubOptions(codec=Codec.H264, num_steps=1)
        )
        boxes[backend] = result.face_boxes
    np.testing.assert_array_equal(boxes["openmmlab"], boxes["builtin"])

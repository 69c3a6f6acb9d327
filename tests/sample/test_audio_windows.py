"""Per-latent-frame audio windows against ``crop_overlap_audio_window`` and the lip-sync unit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from xdub.errors import MediaError
from xdub.sample.audio_windows import audio_windows, latent_audio_features, window_indices

WINDOW_KEY = re.compile(r"(L\d+_\d+)_w(\d+)_s(\d+)_(whisper|wav2vec)_win")
UNIT_KEY = re.compile(r"(L\d+_\d+)_unit_s(\d+)_audio_feats")


@pytest.fixture(scope="module")
def golden(golden_dir: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    indices = json.loads((golden_dir / "audio_window.json").read_text())
    return indices, load_file(golden_dir / "audio_window.safetensors")


def _last_layer(features: torch.Tensor) -> torch.Tensor:
    """(F, layers, C) as stored -> (F, C): X-Dub uses only the last layer."""
    return features[:, -1]


def test_windows_and_indices_for_every_case(golden) -> None:
    indices, tensors = golden
    cases = [m for key in tensors if (m := WINDOW_KEY.fullmatch(key))]
    assert cases
    for case in cases:
        prefix, window_size, start, stream = case.groups()
        features = _last_layer(tensors[f"{prefix}_{stream}"])
        name = case.group(0)
        rows = window_indices(features.shape[0], int(start), window_size=int(window_size))
        # Pure index arithmetic and a gather: exact.
        assert torch.equal(rows, tensors[name.replace("_win", "_idx")]), name
        assert rows.tolist() == indices[f"{prefix}_w{window_size}_s{start}"][f"{stream}_idx"]
        windows = audio_windows(features, int(start), window_size=int(window_size))
        assert windows.shape[1] == 8 + 4 * int(window_size)
        assert torch.equal(windows, tensors[name]), name


def test_model_input_concatenates_whisper_first(golden) -> None:
    _, tensors = golden
    cases = [m for key in tensors if (m := UNIT_KEY.fullmatch(key))]
    assert cases
    for case in cases:
        prefix, start = case.group(1), int(case.group(2))
        whisper = _last_layer(tensors[f"{prefix}_whisper"])
        wav2vec = _last_layer(tensors[f"{prefix}_wav2vec"])
        feats = latent_audio_features(whisper, wav2vec, start)
        assert torch.equal(feats, tensors[case.group(0)]), case.group(0)


def test_loop_clips_gather_the_reference_rows(golden_dir: Path) -> None:
    config = json.loads((golden_dir / "loop_config.json").read_text())
    num_whisper, num_wav2vec = config["whisper_feat_shape"][0], config["wav2vec_feat_shape"][0]
    for k, clip in enumerate(config["clips"]):
        stored = load_file(golden_dir / f"loop_clip{k}.safetensors")
        start, num_frames = clip["start_idx"], config["clip_num_frames"]
        whisper_rows = window_indices(num_whisper, start, num_frames)
        wav2vec_rows = window_indices(num_wav2vec, start, num_frames)
        assert torch.equal(whisper_rows, stored["audio_idx_whisper"]), k
        assert torch.equal(wav2vec_rows, stored["audio_idx_wav2vec"]), k


def test_empty_features_are_a_media_error() -> None:
    with pytest.raises(MediaError) as caught:
        audio_windows(torch.zeros(0, 4), 0)
    assert caught.value.code == "no_audio"

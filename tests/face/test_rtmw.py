"""RTMW network: full-size key layout, reduced golden weights, raw SimCC outputs of both passes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from xdub.errors import ModelError
from xdub.face.nets.configs import RtmwConfig
from xdub.face.nets.rtmw import Rtmw


def _reduced_config(pose_dir: Path) -> RtmwConfig:
    return RtmwConfig.from_mmpose(
        json.loads((pose_dir / "reduced_config.json").read_text())["rtmw"]["model"]
    )


def test_full_size_state_dict_matches_released_manifest(pose_dir: Path) -> None:
    manifest = json.loads((pose_dir / "rtmw_x_keys.json").read_text())
    with torch.device("meta"):
        state = Rtmw(RtmwConfig()).state_dict()
    assert list(state) == list(manifest)  # same keys, same (module) order
    assert {k: list(v.shape) for k, v in state.items()} == manifest
    for key, tensor in state.items():
        expected = torch.int64 if key.endswith("num_batches_tracked") else torch.float32
        assert tensor.dtype == expected, key


def test_full_size_forward_shapes_on_the_meta_device() -> None:
    config = RtmwConfig()
    assert config.simcc_bins == (576, 768)
    width, height = config.input_size
    with torch.device("meta"):
        x, y = Rtmw(config).eval()(torch.empty(2, 3, height, width))
    assert tuple(x.shape) == (2, config.num_keypoints, 576)
    assert tuple(y.shape) == (2, config.num_keypoints, 768)


def test_reduced_model_is_built_from_the_config_file(pose_dir: Path) -> None:
    weights = load_file(pose_dir / "rtmw_reduced.safetensors")
    state = Rtmw(_reduced_config(pose_dir)).state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        k: tuple(v.shape) for k, v in weights.items()
    }


def test_raw_simcc_outputs_of_both_flip_passes_match_golden(pose_dir: Path) -> None:
    model = Rtmw.from_checkpoint(pose_dir / "rtmw_reduced.safetensors", _reduced_config(pose_dir))
    golden = dict(np.load(pose_dir / "rtmw_golden.npz"))
    cases = sorted({k.split("_", 1)[0] for k in golden if k.startswith("case")})
    assert cases
    for case in cases:
        inputs = torch.from_numpy(golden[f"{case}_input"])
        with torch.inference_mode():
            outputs = {"": model(inputs), "_flippass": model(inputs.flip(-1))}
        for suffix, (x, y) in outputs.items():
            # atol: README §8, SimCC raw fed the golden input: float32 noise vs. mmpose's build
            # (≤ 1.1e-3 against a float64 model on values up to ~12).
            np.testing.assert_allclose(
                x.numpy(), golden[f"{case}_raw_x{suffix}"], rtol=0, atol=3e-3
            )
            np.testing.assert_allclose(
                y.numpy(), golden[f"{case}_raw_y{suffix}"], rtol=0, atol=3e-3
            )


def test_config_rejects_variants_it_does_not_implement(pose_dir: Path) -> None:
    model = json.loads((pose_dir / "reduced_config.json").read_text())["rtmw"]["model"]
    variant = {**model, "head": {**model["head"], "gau_cfg": {**model["head"]["gau_cfg"]}}}
    variant["head"]["gau_cfg"]["use_rel_bias"] = True
    with pytest.raises(ModelError, match="rel bias"):
        RtmwConfig.from_mmpose(variant)

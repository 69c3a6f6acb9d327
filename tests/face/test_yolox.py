"""YOLOX network: full-size key layout, reduced golden weights, raw head outputs, checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from xdub.errors import ModelError
from xdub.face.nets.checkpoint import load_checkpoint
from xdub.face.nets.configs import YoloxConfig
from xdub.face.nets.yolox import Yolox


def _reduced_config(pose_dir: Path) -> YoloxConfig:
    return YoloxConfig.from_mmdet(
        json.loads((pose_dir / "reduced_config.json").read_text())["yolox"]["model"]
    )


@pytest.fixture(scope="module")
def reduced_yolox(pose_dir: Path) -> Yolox:
    return Yolox.from_checkpoint(pose_dir / "yolox_reduced.safetensors", _reduced_config(pose_dir))


@pytest.fixture(scope="module")
def golden(pose_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(pose_dir / "yolox_golden.npz"))


def _stored_images(golden: dict[str, np.ndarray]) -> list[int]:
    count = len([k for k in golden if k.endswith("_input_u8")])
    return [i for i in range(count) if f"img{i}_raw_cls_l0" in golden]


def test_full_size_state_dict_matches_released_manifest(pose_dir: Path) -> None:
    manifest = json.loads((pose_dir / "yolox_l_keys.json").read_text())
    with torch.device("meta"):
        state = Yolox(YoloxConfig()).state_dict()
    assert list(state) == list(manifest)  # same keys, same (module) order
    assert {k: list(v.shape) for k, v in state.items()} == manifest
    for key, tensor in state.items():
        expected = torch.int64 if key.endswith("num_batches_tracked") else torch.float32
        assert tensor.dtype == expected, key


def test_full_size_forward_shapes_on_the_meta_device() -> None:
    config = YoloxConfig()
    with torch.device("meta"):
        cls, box, obj = Yolox(config).eval()(torch.empty(2, 3, 640, 640))
    sizes = [640 // s for s in config.strides]
    assert [tuple(t.shape) for t in cls] == [(2, config.num_classes, n, n) for n in sizes]
    assert [tuple(t.shape) for t in box] == [(2, 4, n, n) for n in sizes]
    assert [tuple(t.shape) for t in obj] == [(2, 1, n, n) for n in sizes]


def test_reduced_model_is_built_from_the_config_file(pose_dir: Path) -> None:
    weights = load_file(pose_dir / "yolox_reduced.safetensors")
    state = Yolox(_reduced_config(pose_dir)).state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        k: tuple(v.shape) for k, v in weights.items()
    }


def test_loaded_model_holds_real_cpu_tensors(reduced_yolox: Yolox) -> None:
    assert {t.device.type for t in reduced_yolox.state_dict().values()} == {"cpu"}
    assert not reduced_yolox.training


def test_raw_head_outputs_match_golden(reduced_yolox: Yolox, golden: dict[str, np.ndarray]) -> None:
    images = _stored_images(golden)
    assert images, "the golden set stores raw outputs for at least one image"
    for i in images:
        with torch.inference_mode():
            cls, box, obj = reduced_yolox(torch.from_numpy(golden[f"img{i}_input_u8"]).float())
        for level in range(len(cls)):
            for name, ours in (("cls", cls), ("bbox", box), ("obj", obj)):
                ref = golden[f"img{i}_raw_{name}_l{level}"]
                # atol: float32 conv noise vs. mmdet's build, ≤ 8.2e-4 against a float64 model
                # on logits up to ~52 (README §8); decisions were checked robust to 2e-3.
                np.testing.assert_allclose(ours[level].numpy(), ref, rtol=0, atol=2e-3)


def _write_pth(path: Path, payload: dict) -> Path:
    torch.save(payload, path)
    return path


def test_mmengine_pth_with_meta_and_ema_entries_loads_strictly(
    pose_dir: Path, tmp_path: Path
) -> None:
    weights = load_file(pose_dir / "yolox_reduced.safetensors")
    ema = {f"ema_{k.replace('.', '_')}": v.clone() for k, v in list(weights.items())[:3]}
    meta = {"CLASSES": ("person", "bicycle"), "dataset_meta": {"sigmas": np.ones(3, np.float32)}}
    path = _write_pth(tmp_path / "yolox.pth", {"meta": meta, "state_dict": {**weights, **ema}})
    model = Yolox(_reduced_config(pose_dir))
    load_checkpoint(model, path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), key


def test_mismatched_checkpoint_names_the_offending_keys(pose_dir: Path, tmp_path: Path) -> None:
    weights = load_file(pose_dir / "yolox_reduced.safetensors")
    weights.pop("bbox_head.multi_level_conv_obj.2.bias")
    weights["neck.extra.weight"] = torch.zeros(1)
    weights["backbone.stem.conv.conv.weight"] = torch.zeros(1, 12, 3, 3)
    path = _write_pth(tmp_path / "broken.pth", {"state_dict": weights})
    with pytest.raises(ModelError) as caught:
        load_checkpoint(Yolox(_reduced_config(pose_dir)), path)
    message = caught.value.message
    assert caught.value.code == "bad_model"
    assert "missing keys: bbox_head.multi_level_conv_obj.2.bias" in message
    assert "unexpected keys: neck.extra.weight" in message
    assert "backbone.stem.conv.conv.weight (1, 12, 3, 3) != (4, 12, 3, 3)" in message


class _Arbitrary:
    """Stands for any pickled object a weights-only load must refuse."""


def test_checkpoint_with_arbitrary_pickled_objects_is_refused(
    pose_dir: Path, tmp_path: Path
) -> None:
    weights = load_file(pose_dir / "yolox_reduced.safetensors")
    path = _write_pth(
        tmp_path / "unsafe.pth", {"meta": {"hook": _Arbitrary()}, "state_dict": weights}
    )
    with pytest.raises(ModelError, match="weights-only") as caught:
        load_checkpoint(Yolox(_reduced_config(pose_dir)), path)
    assert caught.value.code == "bad_model"


def test_unreadable_or_absent_checkpoints_raise_model_error(pose_dir: Path, tmp_path: Path) -> None:
    model = Yolox(_reduced_config(pose_dir))
    with pytest.raises(ModelError) as absent:
        load_checkpoint(model, tmp_path / "nope.pth")
    assert absent.value.code == "model_missing"
    for name in ("garbage.pth", "garbage.safetensors"):
        (tmp_path / name).write_bytes(b"not a checkpoint")
        with pytest.raises(ModelError) as corrupt:
            load_checkpoint(model, tmp_path / name)
        assert corrupt.value.code == "bad_model"
        assert name in corrupt.value.message

"""Intermediate tensors of both networks against ``debug_stats.json`` (localises a mismatch)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from xdub.face.nets.configs import RtmwConfig, YoloxConfig
from xdub.face.nets.rtmw import Rtmw
from xdub.face.nets.yolox import Yolox


def _captured(model: nn.Module, names: list[str], inputs: torch.Tensor) -> dict:
    """Outputs of the named submodules during ``model(inputs)``: name → call → output tensor."""
    calls: dict[str, list[list[torch.Tensor]]] = {name: [] for name in names}

    def recorder(name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, _inputs: object, output: object) -> None:
            outputs = output if isinstance(output, tuple | list) else (output,)
            calls[name].append([o.detach().clone() for o in outputs])

        return hook

    handles = [model.get_submodule(n).register_forward_hook(recorder(n)) for n in names]
    try:
        with torch.inference_mode():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _assert_summary_matches(ours: torch.Tensor, ref: dict, where: str) -> None:
    values = ours.double().flatten()
    assert list(ours.shape) == ref["shape"], where
    # rtol 1e-3: README §8 "intermediate stats: relative 1e-3". The mean and the sampled values
    # are judged against the tensor's own std/absmax, as they may sit near zero.
    assert values.std().item() == pytest.approx(ref["std"], rel=1e-3), where
    assert values.abs().max().item() == pytest.approx(ref["absmax"], rel=1e-3), where
    assert abs(values.mean().item() - ref["mean"]) <= 1e-3 * ref["std"], where
    sampled = values[torch.tensor(ref["sample_index"])].numpy()
    np.testing.assert_allclose(
        sampled, ref["sample"], rtol=0, atol=1e-3 * ref["absmax"], err_msg=where
    )


def _check(model: nn.Module, prefix: str, refs: dict, inputs: torch.Tensor, where: str) -> int:
    names = [k.split(":", 1)[1] for k in refs if k.startswith(prefix + ":")]
    ours = _captured(model, names, inputs)
    for name in names:
        ref_calls = refs[f"{prefix}:{name}"]
        assert len(ours[name]) == len(ref_calls), f"{where} {name}"
        for our_outputs, ref_outputs in zip(ours[name], ref_calls, strict=True):
            assert len(our_outputs) == len(ref_outputs), f"{where} {name}"
            for our, ref in zip(our_outputs, ref_outputs, strict=True):
                _assert_summary_matches(our, ref, f"{where} {name}")
    return len(names)


def test_backbone_neck_and_head_tensors_match_debug_stats(pose_dir: Path) -> None:
    config = json.loads((pose_dir / "reduced_config.json").read_text())
    yolox = Yolox.from_checkpoint(
        pose_dir / "yolox_reduced.safetensors", YoloxConfig.from_mmdet(config["yolox"]["model"])
    )
    rtmw = Rtmw.from_checkpoint(
        pose_dir / "rtmw_reduced.safetensors", RtmwConfig.from_mmpose(config["rtmw"]["model"])
    )
    det_golden = np.load(pose_dir / "yolox_golden.npz")
    pose_golden = np.load(pose_dir / "rtmw_golden.npz")
    stats = json.loads((pose_dir / "debug_stats.json").read_text())
    checked = 0
    for index, image in enumerate(sorted(stats, key=lambda k: int(k.removeprefix("img")))):
        det_input = torch.from_numpy(det_golden[f"{image}_input_u8"]).float()
        pose_input = torch.from_numpy(pose_golden[f"case{index}_input"])
        refs = stats[image]
        checked += _check(yolox, "yolox", refs["wrapper_call"], det_input, image)
        checked += _check(rtmw, "rtmw", refs["noflip_pose_call"], pose_input, image)
    assert checked > 0

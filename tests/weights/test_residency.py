"""The VRAM policies move weights between CPU memory and the compute device.

The "device" here is ``meta``: a real second device, so every upload really changes where a
tensor lives and every offload must bring back the CPU copy with its values intact. Forward
passes on meta tensors run the real hooks (meta computes shapes only).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xdub.protocol.records import VramPolicy
from xdub.weights.residency import Residency, WeightHome

META = torch.device("meta")


def _devices(module: nn.Module) -> set[str]:
    return {tensor.device.type for tensor in module.state_dict().values()}


def _net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 4))


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in module.state_dict().items()}


def _same_values(module: nn.Module, snapshot: dict[str, torch.Tensor]) -> bool:
    state = module.state_dict()
    return all(torch.equal(state[name], value) for name, value in snapshot.items())


def test_a_weight_home_uploads_and_brings_back_the_same_values() -> None:
    net = _net(0)
    before = _snapshot(net)
    home = WeightHome([net], META)
    home.upload()
    assert _devices(net) == {"meta"}
    home.offload()
    assert _devices(net) == {"cpu"} and _same_values(net, before)


def test_offloading_on_the_cpu_keeps_one_copy_of_the_weights() -> None:
    net = _net(1)
    pointer = net[0].weight.data_ptr()
    home = WeightHome([net], torch.device("cpu"))
    home.offload()
    home.upload()
    assert net[0].weight.data_ptr() == pointer


def test_skipped_modules_stay_where_they_are() -> None:
    net = _net(2)
    WeightHome([net], META, skip=[net[2]]).upload()
    assert _devices(net[0]) == {"meta"} and _devices(net[2]) == {"cpu"}


def test_offload_puts_exactly_each_stages_groups_on_the_device() -> None:
    nets = {"face": _net(3), "audio": _net(4), "vae": _net(5)}
    before = {name: _snapshot(net) for name, net in nets.items()}
    groups = {name: (net,) for name, net in nets.items()}
    residency = Residency(groups, META, VramPolicy.OFFLOAD)
    assert residency.on_device == frozenset()
    for stage in (("face",), ("audio",), ("audio", "vae"), ("vae",)):
        with residency.stage(*stage):
            assert residency.on_device == set(stage)
            for name, net in nets.items():
                assert _devices(net) == {"meta" if name in stage else "cpu"}
    residency.release()
    assert residency.on_device == frozenset()
    assert all(_same_values(nets[name], before[name]) for name in nets)


def test_low_vram_streams_one_block_at_a_time() -> None:
    blocks = [_net(10 + i) for i in range(4)]
    shell = nn.Linear(4, 4)
    model = nn.Sequential(shell, *blocks)
    residency = Residency({"dit": (model,)}, META, VramPolicy.LOW_VRAM, streamed=blocks)
    seen: list[tuple[int, set[str], list[set[str]]]] = []

    def watch(index: int) -> None:
        def hook(_module: nn.Module, _args: object, _output: object) -> None:
            others = [_devices(block) for j, block in enumerate(blocks) if j != index]
            seen.append((residency.streamed_on_device, _devices(blocks[index]), others))

        blocks[index].register_forward_hook(hook)

    for index in range(len(blocks)):
        watch(index)
    with residency.stage("dit"):
        assert _devices(shell) == {"meta"} and residency.streamed_on_device == 0
        model.eval()(torch.zeros(2, 4, device=META))
    assert len(seen) == len(blocks)
    assert all(count == 1 and own == {"meta"} for count, own, _ in seen)
    assert all(other == {"cpu"} for _, _, others in seen for other in others)
    residency.release()
    assert _devices(model) == {"cpu"}


def test_policies_switch_between_jobs() -> None:
    blocks = [_net(20), _net(21)]
    model = nn.Sequential(nn.Linear(4, 4), *blocks)
    residency = Residency(
        {"dit": (model,), "vae": (_net(22),)}, META, VramPolicy.OFFLOAD, streamed=blocks
    )
    residency.set_policy(VramPolicy.RESIDENT)
    assert residency.on_device == {"dit", "vae"} and _devices(model) == {"meta"}
    with residency.stage("vae"):
        assert residency.on_device == {"dit", "vae"}
    residency.release()
    assert _devices(model) == {"meta"}


def test_resident_on_the_device_is_recognised_and_unknown_groups_are_refused() -> None:
    net = _net(30).to(META)
    residency = Residency({"face": (net,)}, META)
    assert residency.policy is VramPolicy.RESIDENT and residency.on_device == {"face"}
    with pytest.raises(ValueError, match="unknown model groups"):
        with residency.stage("dit"):
            pass

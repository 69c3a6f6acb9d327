"""Where the networks' weights live during a take: the VRAM policies.

A :class:`Residency` holds the bundle's networks in named groups (``face``, ``audio``, ``dit``,
``vae``). Under ``resident`` every group stays on the compute device. Under ``offload`` the
weights live in CPU memory and :meth:`Residency.stage` brings exactly the groups a stage needs
onto the device, sending the others home first, so the VRAM peak is the largest stage's and
nothing is held between jobs. ``low_vram`` also streams the DiT's blocks: each is uploaded
just before its forward pass and dropped right after.

Inference weights never change, so sending a group home only drops its device copies; the home
copies are made once (pinned on CUDA so uploads are fast) and reused for every upload.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from xdub.protocol.records import VramPolicy

log = logging.getLogger(__name__)

HOME_DEVICE = torch.device("cpu")


class WeightHome:
    """The parameters and buffers of some module trees, movable as one between CPU and device.

    ``skip``: sub-modules (with their subtrees) left out, e.g. the DiT blocks that stream.
    """

    def __init__(
        self, modules: Sequence[nn.Module], device: torch.device, skip: Sequence[nn.Module] = ()
    ) -> None:
        self.device = device
        self._slots = _tensor_slots(modules, {id(module) for module in skip})
        self._home: list[Tensor] | None = None

    @property
    def num_bytes(self) -> int:
        return sum(_get(owner, name, kind).nbytes for owner, name, kind in self._slots)

    def upload(self, *, keep_home: bool = True) -> None:
        """Put every tensor on the device; ``keep_home=False`` frees the CPU copies."""
        if self._home is not None:
            sources = self._home
        elif keep_home:
            sources = [_home_copy(_get(*slot), self.device) for slot in self._slots]
        else:
            sources = [_get(*slot) for slot in self._slots]
        for slot, tensor in zip(self._slots, sources, strict=True):
            _set(*slot, tensor.to(self.device, non_blocking=True))
        self._home = sources if keep_home else None

    def offload(self) -> None:
        """Point every tensor at its CPU copy, making the copies on first use."""
        if self._home is None:
            self._home = [_home_copy(_get(*slot), self.device) for slot in self._slots]
        for slot, tensor in zip(self._slots, self._home, strict=True):
            _set(*slot, tensor)


class Residency:
    """The bundle's networks by group, and the policy that places them on ``device``.

    ``streamed``: the modules of ``streamed_group`` that ``low_vram`` uploads one at a time
    (the DiT blocks); the rest of that group stays on the device during its stages.
    """

    def __init__(
        self,
        groups: Mapping[str, Sequence[nn.Module]],
        device: torch.device,
        policy: VramPolicy = VramPolicy.RESIDENT,
        *,
        streamed_group: str = "dit",
        streamed: Sequence[nn.Module] = (),
    ) -> None:
        if streamed and streamed_group not in groups:
            raise ValueError(f"no group {streamed_group!r} for the streamed modules")
        self.device = device
        self._streamed_group = streamed_group
        self._groups = {
            name: WeightHome(modules, device, streamed if name == streamed_group else ())
            for name, modules in groups.items()
        }
        self._streamed = [(module, WeightHome([module], device)) for module in streamed]
        self._hooks: list[RemovableHandle] = []
        resident = _all_on([*(m for ms in groups.values() for m in ms), *streamed], device)
        self._on_device: set[str] = set(groups) if resident else set()
        self._streaming_on_device: set[int] = {id(m) for m in streamed} if resident else set()
        self.set_policy(policy)

    @property
    def policy(self) -> VramPolicy:
        return self._policy

    @property
    def on_device(self) -> frozenset[str]:
        """The groups whose weights are on the device now (streamed blocks aside)."""
        return frozenset(self._on_device)

    @property
    def streamed_on_device(self) -> int:
        """How many streamed modules are on the device now (at most one under ``low_vram``)."""
        return len(self._streaming_on_device)

    def set_policy(self, policy: VramPolicy) -> None:
        """Switch policy between jobs: ``resident`` uploads everything and frees the CPU
        copies; the others send everything home."""
        self._policy = policy = VramPolicy(policy)
        if policy is VramPolicy.RESIDENT:
            self._remove_hooks()
            for home in self._groups.values():
                home.upload(keep_home=False)
            self._upload_blocks(keep_home=False)
            self._on_device = set(self._groups)
        else:
            self._place(set())
        sizes = {name: f"{home.num_bytes / 2**30:.2f} GiB" for name, home in self._groups.items()}
        log.info("VRAM policy %s on %s; weights %s", policy.value, self.device, sizes)

    @contextmanager
    def stage(self, *names: str) -> Iterator[None]:
        """Run a stage with the groups ``names`` on the device.

        The groups stay there after the stage, so a following stage that needs them again
        moves nothing; :meth:`release` sends everything home at the end of a take.
        """
        unknown = set(names) - set(self._groups)
        if unknown:
            known = ", ".join(sorted(self._groups))
            raise ValueError(f"unknown model groups {sorted(unknown)}; known: {known}")
        if self._policy is not VramPolicy.RESIDENT:
            self._place(set(names))
        yield

    def release(self) -> None:
        """Send every group home and return the cached VRAM (no-op under ``resident``)."""
        if self._policy is not VramPolicy.RESIDENT:
            self._place(set())

    def _place(self, wanted: set[str]) -> None:
        leaving, entering = self._on_device - wanted, wanted - self._on_device
        if self._streamed_group in leaving:
            self._remove_hooks()
            self._offload_blocks()
        for name in sorted(leaving):  # one order in every process (no str-hash order)
            self._groups[name].offload()
        if leaving and self.device.type == "cuda":
            torch.cuda.empty_cache()
        for name in sorted(entering):
            self._groups[name].upload()
        self._on_device = set(wanted)
        if self._streamed_group in entering:
            if self._policy is VramPolicy.LOW_VRAM:
                self._install_hooks()
            else:
                self._upload_blocks()
        if leaving or entering:
            log.debug("models on %s: %s", self.device, sorted(wanted) or "none")

    def _upload_blocks(self, *, keep_home: bool = True) -> None:
        for module, block in self._streamed:
            block.upload(keep_home=keep_home)
            self._streaming_on_device.add(id(module))

    def _offload_blocks(self) -> None:
        for _, block in self._streamed:
            block.offload()
        self._streaming_on_device.clear()

    def _install_hooks(self) -> None:
        """Upload each streamed module just for its own forward pass."""
        for module, block in self._streamed:
            self._hooks.append(module.register_forward_pre_hook(self._arrive(module, block)))
            self._hooks.append(module.register_forward_hook(self._leave(module, block)))

    def _remove_hooks(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()

    def _arrive(self, module: nn.Module, block: WeightHome) -> Any:
        def hook(_module: nn.Module, _args: Any) -> None:
            block.upload()
            self._streaming_on_device.add(id(module))

        return hook

    def _leave(self, module: nn.Module, block: WeightHome) -> Any:
        def hook(_module: nn.Module, _args: Any, _output: Any) -> None:
            block.offload()
            self._streaming_on_device.discard(id(module))

        return hook


_Slot = tuple[nn.Module, str, str]
"""(owning module, attribute name, "param" or "buffer")."""


def _tensor_slots(modules: Sequence[nn.Module], skip: set[int]) -> list[_Slot]:
    """Every parameter and buffer under ``modules`` once, outside the ``skip`` subtrees."""
    slots: list[_Slot] = []
    seen: set[int] = set()

    def visit(module: nn.Module) -> None:
        if id(module) in skip or id(module) in seen:
            return
        seen.add(id(module))
        for name, param in module._parameters.items():
            if param is not None:
                slots.append((module, name, "param"))
        for name, buffer in module._buffers.items():
            if buffer is not None:
                slots.append((module, name, "buffer"))
        for child in module.children():
            visit(child)

    for module in modules:
        visit(module)
    return slots


def _get(owner: nn.Module, name: str, kind: str) -> Tensor:
    tensor = owner._parameters[name] if kind == "param" else owner._buffers[name]
    assert tensor is not None
    return tensor.data


def _set(owner: nn.Module, name: str, kind: str, tensor: Tensor) -> None:
    if kind == "param":
        owner._parameters[name] = nn.Parameter(tensor, requires_grad=False)
    else:
        owner._buffers[name] = tensor


def _home_copy(tensor: Tensor, device: torch.device) -> Tensor:
    home = tensor.to(HOME_DEVICE)
    if device.type == "cuda":
        home = home.pin_memory()
    return home


def _all_on(modules: Sequence[nn.Module], device: torch.device) -> bool:
    """Whether every tensor of ``modules`` is on ``device`` (``cuda`` matches ``cuda:0``)."""
    return all(
        t.device.type == device.type and (device.index is None or t.device.index == device.index)
        for m in modules
        for t in m.state_dict().values()
    )

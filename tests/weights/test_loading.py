"""Loading weights: meta build + per-tensor ``safe_open`` on the target device and dtype."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from xdub.errors import ModelError
from xdub.model.config import AudioProjConfig, DiTConfig
from xdub.model.dit import XDubDiT, init_random_weights
from xdub.weights.folder import ModelFolder
from xdub.weights.loading import load_dit, load_vae
from xdub.weights.tiny import make_tiny_folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ModelFolder:
    return make_tiny_folder(tmp_path_factory.mktemp("models") / "tiny", seed=1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_dit_tensors_arrive_in_the_requested_dtype(tiny: ModelFolder, dtype: torch.dtype) -> None:
    dit = load_dit(tiny.path("dit"), device="cpu", dtype=dtype, config=tiny.dit_config())
    stored = load_file(tiny.path("dit"))
    state = dit.state_dict()
    assert state.keys() == stored.keys()
    for name, tensor in state.items():
        assert tensor.dtype == dtype and tensor.device.type == "cpu", name
        assert torch.equal(tensor, stored[name].to(dtype)), name
    assert not dit.training and not any(p.requires_grad for p in dit.parameters())


def test_vae_loads_in_bf16_and_still_encodes(tiny: ModelFolder) -> None:
    vae = load_vae(tiny.path("vae"), device="cpu", dtype=torch.bfloat16, config=tiny.vae_config())
    assert {p.dtype for p in vae.module.parameters()} == {torch.bfloat16}
    latents = vae.encode(torch.zeros(1, 16, 16, 3, dtype=torch.uint8))
    assert latents.dtype == torch.bfloat16 and latents.shape == (1, vae.z_dim, 1, 1, 1)


def test_loading_into_the_wrong_config_names_file_and_tensor(tiny: ModelFolder) -> None:
    wider = dataclasses.replace(tiny.dit_config(), ffn_dim=tiny.dit_config().ffn_dim * 2)
    with pytest.raises(ModelError, match=r"X-Dub_model\.safetensors: blocks\.0\.ffn\.0\.weight"):
        load_dit(tiny.path("dit"), device="cpu", dtype=torch.float32, config=wider)


def test_bare_file_defaults_to_the_released_config(tiny: ModelFolder) -> None:
    with pytest.raises(ModelError, match="does not match the expected model") as caught:
        load_vae(tiny.path("vae"), device="cpu", dtype=torch.float32)
    assert caught.value.hint is not None and "verify" in caught.value.hint


def test_integer_tensors_keep_their_dtype(tmp_path: Path) -> None:
    """Only floating tensors are cast (e.g. BatchNorm's int64 counter stays int64)."""
    from xdub.weights.loading import load_weights

    with torch.device("meta"):
        module = torch.nn.BatchNorm1d(4)
    path = tmp_path / "bn.safetensors"
    save_file(torch.nn.BatchNorm1d(4).state_dict(), str(path))
    load_weights(module, path, device="cpu", dtype=torch.bfloat16)
    assert module.weight.dtype == torch.bfloat16
    assert module.num_batches_tracked.dtype == torch.int64


# A DiT big enough (~42 M parameters) that its memory stands out from allocator noise.
_MEDIUM = DiTConfig(
    dim=512,
    ffn_dim=2048,
    num_heads=4,
    num_blocks=8,
    text_dim=64,
    freq_dim=64,
    audio=AudioProjConfig(
        in_dim=64, intermediate_dim=64, out_dim=512, num_layers=1, num_heads=2, head_dim=32
    ),
)
_MEASURE = """
import gc, json, sys, torch
from pathlib import Path
from xdub.model.config import DiTConfig
from xdub.weights.loading import load_dit

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
config = DiTConfig.from_json(Path(sys.argv[2]).read_text())
result = {}
for dtype in (torch.bfloat16, torch.float32):
    gc.collect()
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
    before = status("VmRSS:")
    dit = load_dit(Path(sys.argv[1]), device="cpu", dtype=dtype, config=config)
    size = sum(t.numel() * t.element_size() for t in dit.state_dict().values())
    result[str(dtype)] = {"growth": status("VmHWM:") - before, "model_bytes": size}
    del dit
print(json.dumps(result))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux procfs")
def test_peak_host_memory_is_the_model_plus_the_mapped_file(tmp_path: Path) -> None:
    """bf16 file -> bf16: tensors stay views of the mapped file (growth <= file size). bf16 file
    -> fp32: the fp32 model plus the mapped file. Building the model on the CPU first, or
    reading the whole file before casting, would add a further model copy."""
    with torch.device("meta"):
        dit = XDubDiT(_MEDIUM)
    dit = dit.to_empty(device="cpu").to(torch.bfloat16)
    init_random_weights(dit, seed=0)
    path = tmp_path / "dit.safetensors"
    save_file(dit.state_dict(), str(path))
    config_path = tmp_path / "config.json"
    config_path.write_text(_MEDIUM.to_json())
    del dit
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), str(config_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(result.stdout.splitlines()[-1])
    file_bytes = path.stat().st_size
    slack = 16 * 2**20  # allocator and page-table noise
    bf16, fp32 = measured["torch.bfloat16"], measured["torch.float32"]
    assert bf16["growth"] <= file_bytes + slack, measured
    assert fp32["growth"] <= file_bytes + fp32["model_bytes"] + slack, measured


def test_truncated_file_is_refused_before_reading(tiny: ModelFolder, tmp_path: Path) -> None:
    path = tmp_path / "vae.safetensors"
    data = tiny.path("vae").read_bytes()
    path.write_bytes(data[: len(data) - 1])
    with pytest.raises(ModelError, match="vae.safetensors: truncated") as caught:
        load_vae(path, device="cpu", dtype=torch.float32, config=tiny.vae_config())
    assert caught.value.code == "model_corrupt"

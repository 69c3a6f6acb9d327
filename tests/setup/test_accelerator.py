"""Torch build detection with faked machine answers: the CPU-torch-on-a-CUDA-machine cases."""

from __future__ import annotations

import pytest

from xdub.errors import XdubError
from xdub.setup.accelerator import MachineProbe, detect
from xdub.setup.environment import torch_mismatch


def probe(
    system: str = "linux",
    machine: str = "x86_64",
    smi: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
) -> MachineProbe:
    """``smi`` maps a --query-gpu field list to nvidia-smi's output (missing: it fails)."""
    smi = smi or {}
    files = files or {}

    def run(argv: list[str]) -> str | None:
        if argv[0] == "nvidia-smi":
            return smi.get(argv[1].removeprefix("--query-gpu="))
        return None

    return MachineProbe(system, machine, run, files.get, lambda path: path in files)


FULL = "driver_version,compute_cap,name"


@pytest.mark.parametrize(
    ("system", "answer", "build"),
    [
        ("linux", "580.82.07, 8.9, NVIDIA GeForce RTX 4090", "cu130"),
        ("linux", "575.57.08, 8.6, NVIDIA RTX A6000", "cu128"),
        ("linux", "580.82.07, 6.1, NVIDIA GeForce GTX 1080", "cu128"),  # CUDA 13 dropped Pascal
        ("linux", "560.35.03, 8.6, NVIDIA GeForce RTX 3090", "cu126"),
        ("linux", "535.183.01, 7.5, Tesla T4", "cu126"),  # minor-version compatibility
        ("windows", "570.30, 8.9, NVIDIA GeForce RTX 4070", "cu126"),  # Windows needs 570.65
        ("windows", "572.16, 12.0, NVIDIA GeForce RTX 5090", "cu128"),
        ("linux", "580.65.06, 12.0, NVIDIA GeForce RTX 5090", "cu130"),
    ],
)
def test_cuda_build_follows_driver_and_gpu(system: str, answer: str, build: str) -> None:
    detection = detect(probe(system, smi={FULL: answer + "\n"}))
    assert detection.build == build
    assert answer.split(",")[0] in detection.reason


def test_blackwell_on_an_old_driver_says_update_the_driver() -> None:
    detection = detect(probe(smi={FULL: "560.35.03, 12.0, NVIDIA GeForce RTX 5090\n"}))
    assert detection.build == "cpu"
    assert "update the driver to 570.26" in detection.reason


def test_driver_too_old_for_any_cuda_build_falls_back_to_cpu_and_says_why() -> None:
    detection = detect(probe(smi={FULL: "470.256.02, 7.5, Tesla T4\n"}))
    assert detection.build == "cpu"
    assert "470.256.02 is too old" in detection.reason


def test_nvidia_smi_without_compute_cap_field_still_finds_the_gpu() -> None:
    # Drivers before 510 reject the compute_cap field: a CUDA machine must not get CPU torch.
    old = probe(smi={"driver_version,name": "535.54.03, Quadro RTX 8000\n"})
    assert detect(old).build == "cu126"


def test_driver_without_nvidia_smi_on_path_is_found_in_proc() -> None:
    text = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  575.64.03  Release Build\n"
    assert detect(probe(files={"/proc/driver/nvidia/version": text})).build == "cu128"


def test_two_gpus_use_the_older_one() -> None:
    answer = "580.82.07, 8.9, NVIDIA RTX 4090\n580.82.07, 7.0, Tesla V100\n"
    assert detect(probe(smi={FULL: answer})).build == "cu128"


def test_rocm_on_linux() -> None:
    amd = probe(files={"/dev/kfd": "", "/opt/rocm": ""})
    assert detect(amd).build == "rocm"
    assert detect(probe("windows", files={"/dev/kfd": "", "/opt/rocm": ""})).build == "cpu"


def test_apple_silicon_gets_mps_and_intel_mac_a_clear_error() -> None:
    assert detect(probe("darwin", "arm64")).build == "mps"
    with pytest.raises(XdubError, match="Intel Macs") as caught:
        detect(probe("darwin", "x86_64"))
    assert caught.value.hint


def test_no_gpu_is_cpu() -> None:
    assert detect(probe()).build == "cpu"


@pytest.mark.parametrize(
    ("build", "found", "problem"),
    [
        ("cu128", {"torch": "2.14.1+cpu", "cuda": None}, "has CUDA None, not 12.8"),
        ("cu126", {"torch": "2.14.1", "cuda": "13.0"}, "has CUDA 13.0, not 12.6"),
        ("rocm", {"torch": "2.14.1", "cuda": "13.0", "hip": None}, "not a ROCm build"),
        ("mps", {"torch": "2.14.1", "mps": False}, "lacks the MPS backend"),
    ],
)
def test_installed_torch_that_is_not_the_chosen_build_is_refused(
    build: str, found: dict[str, object], problem: str
) -> None:
    assert problem in (torch_mismatch(build, found) or "")


def test_installed_torch_of_the_chosen_build_passes() -> None:
    assert torch_mismatch("cu130", {"torch": "2.14.1+cu130", "cuda": "13.0"}) is None
    assert torch_mismatch("cpu", {"torch": "2.14.1+cpu", "cuda": None}) is None

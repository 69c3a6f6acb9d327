"""``xdub models`` run as a subprocess, the way users and the daemon's installer run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from xdub.weights.folder import COMPONENTS

XDUB = Path(sys.executable).with_name("xdub")


def xdub(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(XDUB), "models", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_make_tiny_then_verify_prints_a_clean_table(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    made = xdub("make-tiny", folder, "--seed", "3")
    assert made.returncode == 0, made.stderr
    assert "TEST WEIGHTS" in made.stdout

    checked = xdub("verify", folder)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    table = checked.stdout.splitlines()[1 : 1 + len(COMPONENTS)]
    rows = {line.split()[0]: line.split()[1] for line in table}
    assert rows == {entry.name: "ok" for entry in COMPONENTS}
    assert "all components ok" in checked.stdout

    (folder / "Wan2.2_VAE.safetensors").unlink()
    before = load_file(folder / "xdub_text_context.safetensors")["context"]
    (folder / "xdub_text_context.safetensors").unlink()
    broken = xdub("verify", folder)
    assert broken.returncode == 1
    assert "problem: Wan2.2_VAE.safetensors: is missing" in broken.stdout
    assert "problem: xdub_text_context.safetensors: is missing" in broken.stdout

    prepared = xdub("prepare-context", folder, "--dtype", "fp32")
    assert prepared.returncode == 0, prepared.stderr
    after = load_file(folder / "xdub_text_context.safetensors")["context"]
    assert torch.equal(before, after)


def test_prepare_context_without_umt5_fails_with_an_error_code(tmp_path: Path) -> None:
    result = xdub("prepare-context", tmp_path)
    assert result.returncode == 2
    assert "[model_missing]" in result.stderr
    assert "models_t5_umt5-xxl-enc-bf16.safetensors" in result.stderr

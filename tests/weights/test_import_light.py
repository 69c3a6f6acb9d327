"""Listing and downloading models stay torch-free: the daemon's server and ``xdub models list``
import the model manager without torch, transformers or DiffSynth (checked in a fresh
interpreter)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from xdub.protocol.records import ModelState
from xdub.weights.folder import COMPONENTS, component
from xdub.weights.sources import PARTIAL_SUFFIX

HEAVY = ("torch", "transformers", "diffsynth")
LIST_SCRIPT = """
import json, sys
from pathlib import Path

from xdub.weights.folder import ModelFolder
from xdub.weights.manager import ModelManager
from xdub.weights.sources import LocalSource
from xdub.protocol.messages import Models
from xdub.protocol.records import ModelAction
from xdub_daemon.manage import ModelsDesk

root, source = Path(sys.argv[1]), Path(sys.argv[2])
manager = ModelManager(root, LocalSource(source))
folder = ModelFolder(root)
reply = ModelsDesk(root, str(source)).handle(Models(ModelAction.LIST))
listed = {
    "states": {report.name: report.state.value for report in manager.status()},
    "desk_states": {info.name: info.state.value for info in reply.models},
    "plan": [[task.file.path, task.resume_bytes] for task in manager.plan().tasks],
    "partial_bytes": manager.disk_usage().partial_bytes,
    "config_problems": [str(problem) for problem in folder.config_problems()],
    "dit_dim": folder.dit_config().dim,
}
result = manager.download()
print(json.dumps({
    **listed,
    "fetched": [list(result.files_fetched), result.bytes_fetched],
    "vae_after": {report.name: report.state.value for report in manager.status()}["vae"],
    "heavy": [name for name in sys.argv[3:] if name in sys.modules],
}))
"""


def test_listing_and_downloading_import_neither_torch_nor_transformers_nor_diffsynth(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A folder lacking umt5 and holding half of the VAE as a partial file, listed against the
    tiny folder as its source through ``ModelManager`` and the daemon's ``ModelsDesk``, then
    the VAE's download resumed."""
    root = shutil.copytree(tiny_model_dir, tmp_path / "models")
    vae = root / component("vae").path
    data = vae.read_bytes()
    vae.unlink()
    vae.with_name(vae.name + PARTIAL_SUFFIX).write_bytes(data[: len(data) // 2])
    (root / component("umt5").path).unlink()

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-c", LIST_SCRIPT, str(root), str(tiny_model_dir), *HEAVY]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)

    assert listed["heavy"] == []
    expected = {entry.name: ModelState.READY.value for entry in COMPONENTS}
    expected |= {"vae": ModelState.PARTIAL.value, "umt5": ModelState.MISSING.value}
    assert listed["states"] == listed["desk_states"] == expected
    assert listed["plan"] == [[component("vae").path, len(data) // 2]]  # resumes the partial
    assert listed["partial_bytes"] == len(data) // 2
    assert listed["config_problems"] == []
    metadata = json.loads((tiny_model_dir / "xdub-model.json").read_text())
    assert listed["dit_dim"] == metadata["components"]["dit"]["config"]["dim"]
    assert listed["fetched"] == [[component("vae").path], len(data) - len(data) // 2]
    assert listed["vae_after"] == ModelState.READY.value
    assert vae.read_bytes() == data

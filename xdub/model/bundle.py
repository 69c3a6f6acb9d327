"""Every network a take needs, loaded once from a model folder and kept resident.

The daemon's worker and the CLI hold one :class:`ModelBundle` for as long as they live, so a
second take starts denoising without reading any weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from xdub.audio.features import AudioEncoder
from xdub.errors import ModelError
from xdub.face.wholebody import WholebodyEstimator
from xdub.model.dit import TextContext, XDubDiT
from xdub.model.folder import ModelFolder
from xdub.model.loading import load_dit, load_vae
from xdub.model.text_context import load_text_context
from xdub.model.vae import WanVae

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "bf16", "fp32")


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA if available, then Apple MPS, then the CPU; otherwise torch's name."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """``"bf16"`` as the reference runs, ``"fp32"`` for parity checks; ``"auto"`` picks bf16
    on accelerators and fp32 on the CPU (where bf16 matmuls are slow)."""
    if precision not in PRECISIONS:
        raise ModelError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        precision = "fp32" if device.type == "cpu" else "bf16"
    return torch.bfloat16 if precision == "bf16" else torch.float32


@dataclass
class ModelBundle:
    """The loaded networks: DiT (with its prepared text context), VAE, audio and face models."""

    folder: ModelFolder
    device: torch.device
    dtype: torch.dtype
    dit: XDubDiT
    text: TextContext
    vae: WanVae
    audio: AudioEncoder
    face: WholebodyEstimator

    @property
    def crop_size(self) -> int:
        """Side of the square face crops the DiT works on (512 for the released model)."""
        return self.folder.metadata.crop_size

    @property
    def is_test_weights(self) -> bool:
        """True for folders written by ``xdub models make-tiny`` (random weights)."""
        return self.folder.metadata.is_test_weights

    @classmethod
    def load(cls, root: Path, *, device: str = "auto", precision: str = "auto") -> ModelBundle:
        """Verify the folder at ``root``, then load every component onto ``device``."""
        folder = ModelFolder(Path(root))
        problems = folder.verify()
        if problems:
            listed = "; ".join(str(p) for p in problems[:5])
            raise ModelError(
                f"model folder {root} is incomplete or corrupt: {listed}",
                code="model_missing" if not Path(root).is_dir() else "model_corrupt",
                hint="download the weights with `xdub models download`, or check the folder "
                "with `xdub models verify DIR`",
            )
        torch_device = resolve_device(device)
        dtype = resolve_dtype(precision, torch_device)
        log.info("loading models from %s to %s (%s)", root, torch_device, dtype)
        dit = load_dit(folder, device=torch_device, dtype=dtype)
        context = load_text_context(folder.root).to(device=torch_device, dtype=dtype)
        with torch.no_grad():
            text = dit.prepare_text(context, cache_kv=True)
        return cls(
            folder=folder,
            device=torch_device,
            dtype=dtype,
            dit=dit,
            text=text,
            vae=load_vae(folder, device=torch_device, dtype=dtype),
            audio=AudioEncoder.from_model_folder(folder.root, device=torch_device),
            face=WholebodyEstimator.from_checkpoints(
                folder.path("yolox"),
                folder.path("rtmw"),
                device=torch_device,
                detector_config=folder.yolox_config(),
                pose_config=folder.rtmw_config(),
            ),
        )

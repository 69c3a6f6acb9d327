"""Every network a take needs, loaded once from a model folder and kept for every take.

The daemon's worker and the CLI hold one :class:`ModelBundle` for as long as they live, so a
second take starts denoising without reading any weights. Its :class:`Residency` places the
weights on the GPU by the VRAM policy (resident, offload between stages, low-VRAM).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from xdub.audio.features import AudioEncoder
from xdub.audio.whisper import whisper_dtype
from xdub.errors import ModelError
from xdub.face.backends import load_wholebody
from xdub.face.wholebody import WholebodyBackend
from xdub.model.dit import TextContext, TextContextBuffers, XDubDiT
from xdub.model.vae import WanVae
from xdub.protocol.records import VramPolicy
from xdub.weights.folder import ModelFolder
from xdub.weights.loading import load_dit, load_vae
from xdub.weights.residency import HOME_DEVICE, Residency
from xdub.weights.text_context import load_text_context

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
    """The loaded networks: DiT (with its prepared text context), VAE, audio and face models.

    ``residency`` says where their weights are; pipeline stages ask it for the groups
    ``face``, ``audio``, ``dit`` (with the text context) and ``vae``.
    """

    folder: ModelFolder
    device: torch.device
    dtype: torch.dtype
    dit: XDubDiT
    text_buffers: TextContextBuffers
    vae: WanVae
    audio: AudioEncoder
    face: WholebodyBackend
    residency: Residency

    @property
    def text(self) -> TextContext:
        """The prepared text context, on the device the DiT's group is on now."""
        return self.text_buffers.context

    @property
    def crop_size(self) -> int:
        """Side of the square face crops the DiT works on (512 for the released model)."""
        return self.folder.metadata.crop_size

    @property
    def is_test_weights(self) -> bool:
        """True for folders written by ``xdub models make-tiny`` (random weights)."""
        return self.folder.metadata.is_test_weights

    @classmethod
    def load(
        cls,
        root: Path,
        *,
        device: str = "auto",
        precision: str = "auto",
        vram_policy: VramPolicy = VramPolicy.RESIDENT,
        face_backend: str = "builtin",
    ) -> ModelBundle:
        """Verify the folder at ``root``, then load every component: onto ``device`` when
        resident, else into CPU memory for the residency to move stage by stage.

        ``face_backend``: ``"builtin"`` (plain PyTorch) or ``"openmmlab"`` (mmdet + mmpose,
        if installed) for the landmark networks; both give the same landmarks.
        """
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
        policy = VramPolicy(vram_policy)
        load_device = torch_device if policy is VramPolicy.RESIDENT else HOME_DEVICE
        log.info("loading models from %s to %s (%s)", root, load_device, dtype)
        dit = load_dit(
            folder.path("dit"), device=load_device, dtype=dtype, config=folder.dit_config()
        )
        context = load_text_context(folder.root).to(device=load_device, dtype=dtype)
        with torch.no_grad():
            text = TextContextBuffers(dit.prepare_text(context, cache_kv=True))
        vae = load_vae(
            folder.path("vae"), device=load_device, dtype=dtype, config=folder.vae_config()
        )
        audio = AudioEncoder.from_model_folder(
            folder.root,
            device=load_device,
            whisper_dtype=whisper_dtype(torch_device),  # for the compute device, not the CPU
        )
        face = load_wholebody(
            folder.path("yolox"),
            folder.path("rtmw"),
            backend=face_backend,
            device=load_device,
            detector_config=folder.yolox_config(),
            pose_config=folder.rtmw_config(),
        )
        residency = Residency(
            {
                "face": face.networks,
                "audio": audio.networks,
                "dit": (dit, text),
                "vae": (vae.module,),
            },
            torch_device,
            policy,
            streamed=tuple(dit.blocks),
        )
        return cls(folder, torch_device, dtype, dit, text, vae, audio, face, residency)

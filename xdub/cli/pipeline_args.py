"""The options that choose how the pipeline runs: device, precision, VRAM policy, face backend,
regional compile and CUDA graphs.

One definition for ``xdub dub``, ``xdub daemon start`` and ``python -m xdub_daemon``; torch-free,
so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse

from xdub.face.nets.configs import FACE_BACKENDS
from xdub.protocol.records import VramPolicy

STORED_DEFAULT = "the stored setting, else resident"


def add_pipeline_arguments(
    parser: argparse.ArgumentParser, *, vram_policy_default: str | None
) -> None:
    """Add ``--device``, ``--precision``, ``--vram-policy``, ``--face-backend``, ``--compile``
    and ``--cuda-graphs``.

    ``vram_policy_default`` None: unset means "the daemon's stored setting".
    """
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:1, mps or cpu")
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    parser.add_argument(
        "--vram-policy",
        choices=[policy.value for policy in VramPolicy],
        default=vram_policy_default,
        help="resident (fastest), offload (each stage moves its own networks to the GPU) or "
        f"low_vram (also streams the DiT block by block); default: "
        f"{vram_policy_default or STORED_DEFAULT}",
    )
    parser.add_argument(
        "--face-backend",
        choices=FACE_BACKENDS,
        default=FACE_BACKENDS[0],
        help="landmark networks: builtin (plain PyTorch) or openmmlab (needs mmdet + mmpose)",
    )
    parser.add_argument(
        "--compile",
        choices=("auto", "on", "off"),
        default="auto",
        help="torch.compile the DiT blocks (auto: on CUDA only; falls back to eager, logged)",
    )
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="compile with CUDA graphs (CUDA only; not under --vram-policy low_vram)",
    )


def pipeline_argv(args: argparse.Namespace) -> list[str]:
    """The options :func:`add_pipeline_arguments` parsed, as command-line words again."""
    argv = ["--device", args.device, "--precision", args.precision]
    argv += ["--face-backend", args.face_backend, "--compile", args.compile]
    if args.cuda_graphs:
        argv.append("--cuda-graphs")
    if args.vram_policy is not None:
        argv += ["--vram-policy", args.vram_policy]
    return argv

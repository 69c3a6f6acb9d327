"""``xdub models``: check a model folder, prepare its text context, make a tiny test folder.

xdub models verify DIR
xdub models prepare-context DIR [--device cpu|cuda[:N]] [--dtype bf16|fp32] [--force]
xdub models make-tiny DIR [--seed N]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

_DTYPES = ("bf16", "fp16", "fp32")
_PROBLEMS_SHOWN = 20


def register(subparsers: Any) -> None:
    """Add the ``models`` command group to the top-level ``subparsers``."""
    models = subparsers.add_parser(
        "models", help="model folder: verify, prepare, make test weights"
    )
    commands = models.add_subparsers(dest="models_command", metavar="MODELS_COMMAND", required=True)

    verify = commands.add_parser(
        "verify",
        help="check every file of a model folder (headers only; exit 1 on problems)",
        description="Check presence, integrity, keys, shapes and dtypes of every component.",
    )
    verify.add_argument("folder", type=Path, help="the model folder (HF checkpoints/ layout)")
    verify.add_argument("--all", action="store_true", help="list every problem, not the first 20")
    verify.set_defaults(handler=run_verify)

    prepare = commands.add_parser(
        "prepare-context",
        help="encode the empty prompt with umt5 once and cache it in the folder",
        description="Write xdub_text_context.safetensors; umt5 is not needed afterwards.",
    )
    prepare.add_argument("folder", type=Path)
    prepare.add_argument("--device", default="cpu", help="torch device, e.g. cuda or cuda:1")
    prepare.add_argument("--dtype", choices=_DTYPES, default="bf16", help="umt5 compute dtype")
    prepare.add_argument("--force", action="store_true", help="recompute an existing context")
    prepare.set_defaults(handler=run_prepare_context)

    tiny = commands.add_parser(
        "make-tiny",
        help="write a complete folder of tiny random TEST WEIGHTS (for tests and demos)",
    )
    tiny.add_argument("folder", type=Path)
    tiny.add_argument("--seed", type=int, default=0)
    tiny.set_defaults(handler=run_make_tiny)


def run_verify(args: argparse.Namespace) -> int:
    """Handler of ``xdub models verify``: a table of components, then every problem."""
    from xdub.errors import ModelError
    from xdub.model.folder import ModelFolder

    if not args.folder.is_dir():
        raise ModelError(f"model folder {args.folder} does not exist", code="model_missing")
    folder = ModelFolder(args.folder)
    config_problems = folder.config_problems()
    statuses = folder.status()
    print(f"{'component':<13} {'state':<9} {'size':>10}  path")
    for status in statuses:
        if status.problems:
            state = "PROBLEM"
        elif status.is_present:
            state = "ok"
        else:
            state = "absent"
        size = _size_text(status.size_bytes) if status.is_present else "-"
        print(f"{status.component.name:<13} {state:<9} {size:>10}  {status.component.path}")
    if not config_problems and folder.metadata.is_test_weights:
        print("note: this folder holds TEST WEIGHTS (random values), not a usable model")
    problems = config_problems + [p for status in statuses for p in status.problems]
    shown = problems if args.all else problems[:_PROBLEMS_SHOWN]
    for problem in shown:
        print(f"problem: {problem}" + (f" (hint: {problem.hint})" if problem.hint else ""))
    if len(shown) < len(problems):
        print(f"... and {len(problems) - len(shown)} more (--all lists them)")
    if config_problems:
        print("file checks skipped: the configs above must be fixed first")
    print(f"{len(problems)} problem(s)" if problems else "all components ok")
    return 1 if problems else 0


def run_prepare_context(args: argparse.Namespace) -> int:
    """Handler of ``xdub models prepare-context``."""
    import torch

    from xdub.errors import ModelError
    from xdub.model.folder import ModelFolder
    from xdub.model.text_context import compute_text_context, save_text_context

    folder = ModelFolder(args.folder)
    target = folder.path("text_context")
    if target.is_file() and not args.force:
        print(f"{target} exists; use --force to recompute")
        return 0
    for name in ("umt5", "tokenizer"):
        if not folder.path(name).exists():
            raise ModelError(
                f"{folder.path(name)} is missing; it is needed once to prepare the text context",
                code="model_missing",
                hint="download the umt5 encoder and tokenizer into the folder",
            )
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    context = compute_text_context(
        folder.path("tokenizer"),
        folder.path("umt5"),
        args.device,
        dtype,
        config=folder.umt5_config(),
    )
    save_text_context(context, target, encoder_file=folder.path("umt5").name)
    print(f"wrote {target} {tuple(context.shape)} {args.dtype}")
    return 0


def run_make_tiny(args: argparse.Namespace) -> int:
    """Handler of ``xdub models make-tiny``."""
    from xdub.model.tiny import make_tiny_folder

    folder = make_tiny_folder(args.folder, seed=args.seed)
    print(f"wrote a tiny TEST WEIGHTS model folder to {folder.root} (seed {args.seed})")
    return 0


def _size_text(size_bytes: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f} {unit}"
    return f"{size_bytes} B"

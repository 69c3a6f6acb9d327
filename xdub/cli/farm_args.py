"""The options that choose where the daemon's jobs run: here (``local``) or on a Ray farm.

One definition for ``xdub daemon start`` and ``python -m xdub_daemon``; Ray-free, so ``--help``
works without the ``farm`` extra (docs/farm.md): ``import_ray`` imports it only when called.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xdub.errors import XdubError
from xdub.sample.segments import MIN_SEGMENT_WINDOWS


def add_farm_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend``, ``--ray-address``, ``--ray-resource``, ``--ray-actors``,
    ``--segments``, ``--segment-windows`` and ``--shared-dir``."""
    parser.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="run jobs in a worker process here, or on Ray actors (one per GPU)",
    )
    parser.add_argument(
        "--ray-address",
        default="auto",
        help="with --backend ray: auto (the cluster started here), HOST:6379 or ray://HOST:10001",
    )
    parser.add_argument(
        "--ray-resource",
        help="the Ray resource one actor needs (default GPU, i.e. num_gpus=1; $XDUB_RAY_RESOURCE)",
    )
    parser.add_argument(
        "--ray-actors", type=int, default=0, help="actors to start (default: one per GPU)"
    )
    parser.add_argument(
        "--segments",
        type=_count(0),
        default=0,
        help="with --backend ray: split a long take into at most this many segments that run "
        "on several actors at once (default 0: one per actor; 1: never split)",
    )
    parser.add_argument(
        "--segment-windows",
        type=_count(1),
        default=MIN_SEGMENT_WINDOWS,
        help=f"a segment's 72-frame windows at least (default {MIN_SEGMENT_WINDOWS}: "
        "takes shorter than two such segments run whole)",
    )
    parser.add_argument(
        "--shared-dir",
        type=Path,
        help="a folder every Ray node mounts at the same path: job folders and checkpoints "
        "(default: the data folder, for actors on this machine)",
    )


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value

    return parse


def farm_argv(args: argparse.Namespace) -> list[str]:
    """The farm options of ``args`` as ``python -m xdub_daemon`` arguments."""
    argv = ["--backend", args.backend, "--ray-address", args.ray_address]
    argv += ["--ray-actors", str(args.ray_actors), "--segments", str(args.segments)]
    argv += ["--segment-windows", str(args.segment_windows)]
    if args.ray_resource:
        argv += ["--ray-resource", args.ray_resource]
    if args.shared_dir is not None:
        argv += ["--shared-dir", str(args.shared_dir.resolve())]
    return argv


def import_ray() -> Any:
    """``ray``, or ``farm_missing`` with the install line."""
    try:
        import ray
    except ImportError as error:
        raise XdubError(
            f"--backend ray needs Ray, which is not installed here ({error})",
            code="farm_missing",
            hint="pip install 'xdub[farm]' (docs/farm.md)",
        ) from None
    return ray

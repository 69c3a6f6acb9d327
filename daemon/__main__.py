"""``python -m xdub_daemon``: run the daemon in the foreground (``xdub daemon start`` detaches
it). Logs go to the rotating file in the log folder."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from xdub.cli.pipeline_args import add_pipeline_arguments
from xdub.errors import XdubError
from xdub.protocol.records import VramPolicy
from xdub_daemon.config import DaemonConfig
from xdub_daemon.logs import setup_logging

log = logging.getLogger("xdub_daemon")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m xdub_daemon", description=__doc__)
    parser.add_argument("--model", type=Path, help="model folder (default: the installed one)")
    parser.add_argument(
        "--model-source", help="models download from: 'hub' or a local folder (default: hub)"
    )
    parser.add_argument(
        "--model-max-bps", type=float, help="cap model downloads at this many bytes per second"
    )
    parser.add_argument("--transport", choices=("tcp", "ipc"), default="tcp")
    parser.add_argument("--ip", default="127.0.0.1", help="tcp address to bind (loopback)")
    parser.add_argument(
        "--allow-lan", action="store_true", default=None, help="allow a non-loopback --ip"
    )
    add_pipeline_arguments(parser, vram_policy_default=None)
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> DaemonConfig:
    """The run's config; the stored settings' fields given here are pinned for this run."""
    given = {
        "model_dir": args.model.resolve() if args.model is not None else None,
        "model_source": args.model_source,
        "allow_lan": args.allow_lan,
        "vram_policy": args.vram_policy and VramPolicy(args.vram_policy),
    }
    given = {name: value for name, value in given.items() if value is not None}
    return DaemonConfig(
        transport=args.transport,
        ip=args.ip,
        device=args.device,
        precision=args.precision,
        face_backend=args.face_backend,
        compile=args.compile,
        cuda_graphs=args.cuda_graphs,
        model_max_bps=args.model_max_bps,
        pinned=frozenset(given),
        **given,
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = config_from_args(parse_args(argv))
    setup_logging(config.log_path)
    from xdub_daemon.server import Daemon

    try:
        daemon = Daemon(config)
        daemon.serve()
    except XdubError as error:
        log.error("the daemon could not run: [%s] %s", error.code, error)
        print(f"xdub daemon: [{error.code}] {error}", file=sys.stderr)
        return 2
    except Exception:
        log.exception("the daemon crashed")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

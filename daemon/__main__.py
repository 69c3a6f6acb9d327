"""``python -m xdub_daemon``: run the daemon in the foreground (``xdub daemon start`` detaches
it). Logs go to the rotating file in the log folder."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from xdub.errors import XdubError
from xdub_daemon.config import DaemonConfig
from xdub_daemon.logs import setup_logging

log = logging.getLogger("xdub_daemon")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m xdub_daemon", description=__doc__)
    parser.add_argument("--model", type=Path, help="model folder (default: the installed one)")
    parser.add_argument(
        "--model-source", default="hub", help="models download from: 'hub' or a local folder"
    )
    parser.add_argument(
        "--model-max-bps", type=float, help="cap model downloads at this many bytes per second"
    )
    parser.add_argument("--transport", choices=("tcp", "ipc"), default="tcp")
    parser.add_argument("--ip", default="127.0.0.1", help="tcp address to bind (loopback)")
    parser.add_argument("--allow-lan", action="store_true", help="allow a non-loopback --ip")
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:1, mps or cpu")
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> DaemonConfig:
    config = DaemonConfig(
        transport=args.transport,
        ip=args.ip,
        allow_lan=args.allow_lan,
        device=args.device,
        precision=args.precision,
        model_source=args.model_source,
        model_max_bps=args.model_max_bps,
    )
    if args.model is not None:
        config = dataclasses.replace(config, model_dir=args.model.resolve())
    return config


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

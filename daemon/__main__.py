"""``python -m xdub_daemon``: run the daemon in the foreground (``xdub daemon start`` detaches
it). Logs go to the rotating file in the log folder."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from xdub.cli.farm_args import add_farm_arguments
from xdub.cli.pipeline_args import add_pipeline_arguments
from xdub.errors import XdubError
from xdub.protocol.records import VramPolicy
from xdub_daemon.config import GPU_RESOURCE, RESOURCE_ENV, DaemonConfig, FarmOptions
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
    parser.add_argument(
        "--listen",
        type=parse_listen,
        metavar="HOST:PORT",
        help="serve other machines on HOST:PORT (requests) and PORT+1 (events), encrypted",
    )
    add_pipeline_arguments(parser, vram_policy_default=None)
    add_farm_arguments(parser)
    return parser.parse_args(argv)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as an IP address and a port (0: any)."""
    host, _, port_text = text.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not IP:PORT (e.g. 0.0.0.0:7450, 192.168.1.20:7450)"
        ) from None
    if not 0 <= port <= 65534:
        raise argparse.ArgumentTypeError(f"port {port} is not in 0-65534 (PORT+1 is used too)")
    return host, port


def config_from_args(args: argparse.Namespace) -> DaemonConfig:
    """The run's config; the stored settings' fields given here are pinned for this run."""
    listen: tuple[str, int] | None = args.listen
    ip, port = listen or (args.ip, 0)
    allow_lan = args.allow_lan
    if listen is not None and not ipaddress.ip_address(ip).is_loopback:
        allow_lan = True  # an explicit --listen on the network is the LAN opt-in
    given = {
        "model_dir": args.model.resolve() if args.model is not None else None,
        "model_source": args.model_source,
        "allow_lan": allow_lan,
        "vram_policy": args.vram_policy and VramPolicy(args.vram_policy),
    }
    given = {name: value for name, value in given.items() if value is not None}
    return DaemonConfig(
        transport="tcp" if listen is not None else args.transport,
        ip=ip,
        port=port,
        remote=listen is not None,
        device=args.device,
        precision=args.precision,
        face_backend=args.face_backend,
        compile=args.compile,
        cuda_graphs=args.cuda_graphs,
        model_max_bps=args.model_max_bps,
        backend=args.backend,
        farm=FarmOptions(
            args.ray_address,
            args.ray_resource or os.environ.get(RESOURCE_ENV, GPU_RESOURCE),
            args.ray_actors,
            max_segments=args.segments,
            min_segment_windows=args.segment_windows,
        ),
        shared_dir=args.shared_dir.resolve() if args.shared_dir is not None else None,
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
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return 2
    except Exception:
        log.exception("the daemon crashed")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

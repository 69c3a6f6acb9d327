"""Joining the Ray cluster of ``--backend ray``, with clear errors: ``farm_missing`` (Ray is not
installed; ``xdub.cli.farm_args.import_ray``, which ``xdub daemon start`` also calls before it
detaches the daemon) and ``farm_unreachable`` (nothing answers at ``--ray-address``)."""

from __future__ import annotations

import signal
import socket
from typing import Any

from xdub.cli.farm_args import import_ray
from xdub.errors import XdubError

CONNECT_TIMEOUT_S = 5.0
"""How long a ``HOST:PORT`` may take to accept a connection (Ray itself retries for minutes)."""


def connect(address: str) -> Any:
    """Join the Ray cluster at ``address``, or ``farm_unreachable``."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    _check_reachable(address)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        ray.init(
            address=address,
            namespace="xdub",
            log_to_driver=False,
            configure_logging=False,
            include_dashboard=False,
        )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
        raise _unreachable(address, error) from None
    finally:  # Ray's core worker installs its own; the daemon's clean stop needs its own back
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
    return ray


def _unreachable(address: str, why: object) -> XdubError:
    return XdubError(
        f"cannot connect to the Ray cluster at {address!r}: {why}",
        code="farm_unreachable",
        hint="start it (`ray start --head` on the GPU machine) or give its address with "
        "--ray-address (auto, HOST:6379 or ray://HOST:10001); docs/farm.md",
    )


def _check_reachable(address: str) -> None:
    """Refuse a ``HOST:PORT`` or ``ray://HOST:PORT`` nothing listens on within seconds (Ray
    itself retries for minutes); ``auto`` is Ray's to find."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise _unreachable(address, error) from None

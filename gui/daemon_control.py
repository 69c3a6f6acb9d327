"""Starting and stopping the daemon from the tray.

Start runs ``xdub daemon start`` (which detaches and logs to its rotating file) with this
interpreter; stop sends the protocol's ``shutdown`` through the bridge, so a running job goes
back to the queue and resumes at the next start.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Mapping

from xdub.errors import XdubError
from xdub.protocol.messages import Shutdown
from xdub_gui.bridge import ClientBridge, ErrorHandler

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0


def start_command(python: str = sys.executable) -> list[str]:
    return [python, "-m", "xdub", "daemon", "start"]


def start_daemon(env: Mapping[str, str] | None = None, timeout_s: float = START_TIMEOUT_S) -> None:
    """Run ``xdub daemon start``; raises ``XdubError`` with its output if it fails.

    Blocks until the command returns (it detaches the daemon once its sockets are bound).
    """
    command = start_command()
    try:
        done = subprocess.run(
            command,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise XdubError(f"could not run {' '.join(command)}: {error}") from error
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        raise XdubError(
            f"`xdub daemon start` failed ({done.returncode}): {output}",
            hint="the daemon log in the diagnostics tab has the details",
        )
    log.info("started the daemon: %s", done.stdout.strip())


def stop_daemon(bridge: ClientBridge, on_error: ErrorHandler | None = None) -> None:
    """Ask the daemon to shut down now; a running job resumes at the next start."""
    bridge.request(Shutdown(after_current_job=False), on_error=on_error)

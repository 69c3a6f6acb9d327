"""``xdub daemon start|stop|status|logs|pair``: run the local daemon in the background.

``start`` detaches ``python -m xdub_daemon`` (its own session, output to the rotating log file)
and waits until it answers ``hello``; ``stop`` asks it to shut down (``--after-job`` lets the
running job finish); ``status`` shows its version, device and queue; ``logs`` prints the log's
last lines.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from xdub.cli.farm_args import add_farm_arguments, farm_argv, import_ray
from xdub.cli.pipeline_args import add_pipeline_arguments, pipeline_argv
from xdub.cli.remote import add_pair_command
from xdub.errors import ProtocolError

START_TIMEOUT_S = 60.0


def register(subparsers: Any) -> None:
    """Add ``daemon`` to the top-level ``subparsers``."""
    daemon = subparsers.add_parser("daemon", help="start, stop or inspect the local daemon")
    commands = daemon.add_subparsers(dest="daemon_command", metavar="COMMAND", required=True)
    start = commands.add_parser("start", help="start the daemon in the background")
    start.add_argument("--model", type=Path, help="model folder (default: the installed one)")
    start.add_argument("--transport", choices=("tcp", "ipc"), default="tcp")
    add_pipeline_arguments(start, vram_policy_default=None)
    start.add_argument("--allow-lan", action="store_true", help="listen beyond loopback")
    start.add_argument("--ip", default="127.0.0.1", help="address to bind (with --allow-lan)")
    start.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="serve other machines, encrypted, on PORT and PORT+1 (then `xdub daemon pair`)",
    )
    add_farm_arguments(start)
    start.set_defaults(handler=run_start)
    add_pair_command(commands)
    stop = commands.add_parser("stop", help="stop the daemon")
    stop.add_argument("--after-job", action="store_true", help="let the running job finish")
    stop.set_defaults(handler=run_stop)
    commands.add_parser("status", help="is it running, on what, with which jobs").set_defaults(
        handler=run_status
    )
    logs = commands.add_parser("logs", help="print the end of the daemon's log")
    logs.add_argument("-n", "--lines", type=int, default=50)
    logs.add_argument("--worker", action="store_true", help="the GPU worker's log instead")
    logs.set_defaults(handler=run_logs)


def _daemon_args(args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "xdub_daemon", "--transport", args.transport]
    command += [*pipeline_argv(args), "--ip", args.ip]
    if args.model is not None:
        command += ["--model", str(args.model.resolve())]
    if args.allow_lan:
        command.append("--allow-lan")
    if args.listen:
        command += ["--listen", args.listen]
    return command + farm_argv(args)


def run_start(args: argparse.Namespace) -> int:
    """Handler of ``xdub daemon start``."""
    from xdub.client import DaemonClient
    from xdub.paths import default_log_dir

    if args.backend == "ray":
        import_ray()  # farm_missing here, not in a detached daemon's log
    with DaemonClient(timeout_s=2.0) as client:
        try:
            hello = client.hello()
            print(f"the daemon is already running (pid {hello.pid})")
            return 0
        except ProtocolError:
            pass
        log_dir = default_log_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "daemon-stderr.log", "ab") as stderr:
            process = subprocess.Popen(
                _daemon_args(args),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
                close_fds=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                print(f"the daemon exited with code {process.returncode}; see {log_dir}")
                for line in _daemon_error(log_dir / "daemon-stderr.log"):
                    print(line)  # e.g. [farm_unreachable] ... and its hint
                return 1
            try:
                hello = client.hello()
            except ProtocolError:
                time.sleep(0.2)
                continue
            print(f"started the daemon (pid {hello.pid}); logs in {log_dir}")
            return 0
    print(f"the daemon did not answer within {START_TIMEOUT_S:g} s; see {log_dir}")
    return 1


def _daemon_error(stderr_log: Path) -> list[str]:
    """The last error line ``python -m xdub_daemon`` printed, and its hint (or nothing)."""
    lines = stderr_log.read_text(errors="replace").splitlines() if stderr_log.is_file() else []
    starts = [i for i, line in enumerate(lines) if line.startswith("xdub daemon: [")]
    if not starts:
        return []
    return [
        line for line in lines[starts[-1] : starts[-1] + 2] if line.startswith(("xdub", "hint"))
    ]


def run_stop(args: argparse.Namespace) -> int:
    """Handler of ``xdub daemon stop``: ask it to shut down and wait for its pid to exit."""
    from xdub.client import DaemonClient

    with DaemonClient() as client:
        pid = client.hello().pid
        remote = client.is_remote  # its pid names a process on another machine
        client.shutdown(after_current_job=args.after_job)
    if args.after_job:
        print(f"the daemon (pid {pid}) stops after the running job")
        return 0
    if remote:
        print(f"asked the remote daemon (pid {pid} on its machine) to stop")
        return 0
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and _is_running(pid):
        time.sleep(0.1)
    print(f"stopped the daemon (pid {pid})")
    return 0


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def run_status(args: argparse.Namespace) -> int:
    """Handler of ``xdub daemon status``; exit code 1 when no daemon runs."""
    from xdub.client import DaemonClient
    from xdub.protocol.records import JobState

    with DaemonClient(timeout_s=5.0) as client:
        try:
            hello = client.hello()
        except ProtocolError as error:
            print(f"not running: {error}")
            return 1
        active = client.list_jobs([JobState.QUEUED, JobState.RUNNING], limit=1000)
    running = [job for job in active if job.state is JobState.RUNNING]
    print(f"running: xdub {hello.xdub_version}, pid {hello.pid}, protocol {hello.protocol_version}")
    print(f"device: {hello.device}; models ready: {'yes' if hello.models_ready else 'no'}")
    print(f"jobs: {len(running)} running, {len(active) - len(running)} queued")
    return 0


def run_logs(args: argparse.Namespace) -> int:
    """Handler of ``xdub daemon logs``."""
    from xdub.paths import default_log_dir

    path = default_log_dir() / ("worker.log" if args.worker else "daemon.log")
    if not path.is_file():
        print(f"no log at {path}", file=sys.stderr)
        return 1
    with open(path, encoding="utf-8", errors="replace") as stream:
        for line in deque(stream, maxlen=args.lines):
            print(line, end="")
    return 0

"""A real local Ray head for tests and benchmarks: ``ray start --head --block`` in its own
session and temporary folder, with a fresh auth token, stopped by killing its process group
(never ``ray stop``, which would stop every Ray on the machine)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support.daemon import child_pids, is_alive

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
GPU_RESOURCE = "xdub_gpu"
"""The custom resource the head offers in place of GPUs (``--ray-resource xdub_gpu``)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RayHead:
    """``with RayHead(num_gpus=2) as head:`` -- ``head.address`` and ``head.env`` (the token)
    for the daemons that join it."""

    def __init__(self, num_gpus: int = 2, num_cpus: int = 2) -> None:
        self.num_gpus, self.num_cpus = num_gpus, num_cpus
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.temp_dir = Path(tempfile.mkdtemp(prefix="xr", dir="/tmp"))  # sockets: short paths
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RayHead:
        command = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head"]
        command += [f"--port={self.port}", f"--num-cpus={self.num_cpus}", "--num-gpus=0"]
        command += [f'--resources={{"{GPU_RESOURCE}": {self.num_gpus}}}']
        command += [f"--temp-dir={self.temp_dir}", "--include-dashboard=false"]
        command += ["--disable-usage-stats", "--object-store-memory=200000000", "--block"]
        env = {**os.environ, **self.env, "OMP_NUM_THREADS": "1"}
        log = open(self.temp_dir / "head.log", "wb")  # noqa: SIM115 - closed in __exit__
        self._log = log
        self.process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while b"--block" not in (self.temp_dir / "head.log").read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise AssertionError(f"the Ray head did not start: {self.log_tail()}")
            time.sleep(0.2)
        return self

    def log_tail(self) -> str:
        return (self.temp_dir / "head.log").read_text(errors="replace")[-3000:]

    def __exit__(self, *exc: object) -> None:
        """Stop the head and every process under it (Ray's workers start their own sessions,
        so the tree is collected first; whatever outlives SIGTERM gets SIGKILL)."""
        if self.process is not None:
            tree = _descendants(self.process.pid)
            for pid in tree:
                _signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while time.monotonic() < deadline and any(is_alive(pid) for pid in tree):
                time.sleep(0.2)
            for pid in tree:
                _signal(pid, signal.SIGKILL)
            self.process.wait(10)
        self._log.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, parents first."""
    found, index = [pid], 0
    while index < len(found):
        try:
            found += child_pids(found[index])
        except (FileNotFoundError, ProcessLookupError):
            pass
        index += 1
    return found


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass

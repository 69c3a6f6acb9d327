"""The cost of ``xdub bridge`` (Resolve without pyzmq) against a remote daemon, next to pyzmq.

Starts a real daemon (``python -m xdub_daemon --listen 127.0.0.1:0``: CURVE, signing, tiny
test model, temp folders) and, once through pyzmq (``ClientTransport``) and once through the
bridge (``BridgeTransport``: ``python -m xdub bridge``, JSON lines over pipes, the chunks as
base64 text), times ``--requests`` small requests one after another (``get`` of an unknown
job) and the upload of a generated file of ``--file-mib`` in ``--chunk-mib`` chunks (a fresh
file per transport, so nothing is deduplicated).

    .venv/bin/python benchmarks/bridge.py [--requests 50] [--file-mib 64] [--chunk-mib 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.daemon import DaemonProcess  # noqa: E402

from xdub.client import DaemonClient  # noqa: E402
from xdub.errors import XdubError  # noqa: E402
from xdub.protocol.bridge_transport import BridgeTransport  # noqa: E402
from xdub.protocol.messages import GetJob  # noqa: E402
from xdub.weights.tiny import make_tiny_folder  # noqa: E402

MB = 1e6
LISTEN = ("--listen", "127.0.0.1:0")


def _measure(client: DaemonClient, requests: int, upload: Path) -> tuple[float, float]:
    """Seconds per small request and upload MB/s through ``client``."""
    client.hello()
    start = time.perf_counter()
    for _ in range(requests):
        try:
            client.call(GetJob("no-such-job"))
        except XdubError:
            pass  # unknown_job: the answer is the point
    per_request_s = (time.perf_counter() - start) / requests
    uploader = client.uploader()
    start = time.perf_counter()
    uploader.upload_file(upload)
    upload_s = time.perf_counter() - start
    return per_request_s, upload.stat().st_size / upload_s / MB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--file-mib", type=int, default=64)
    parser.add_argument("--chunk-mib", type=int, default=4)
    args = parser.parse_args(argv)
    chunk_bytes = args.chunk_mib * 2**20
    with tempfile.TemporaryDirectory(prefix="xdub-bridge-bench-") as folder:
        root = Path(folder)
        server = root / "server"
        daemon = DaemonProcess(server, make_tiny_folder(server / "model").root, extra_args=LISTEN)
        daemon.start(wait_models=False)
        try:
            rows = []
            for name in ("pyzmq", "bridge"):
                upload = root / f"{name}.bin"
                upload.write_bytes(os.urandom(args.file_mib * 2**20))
                transport = BridgeTransport(daemon.connection_file) if name == "bridge" else None
                with DaemonClient(
                    daemon.connection_file,
                    client_name="bench",
                    timeout_s=60.0,
                    transport=transport,
                    chunk_bytes=chunk_bytes,
                ) as client:
                    rows.append((name, *_measure(client, args.requests, upload)))
        finally:
            daemon.stop()
    chunks = args.file_mib // args.chunk_mib
    print(f"{args.requests} small requests; upload of {args.file_mib} MiB in {chunks} chunks")
    print("| transport | ms per request | upload MB/s |")
    print("| --- | --- | --- |")
    for name, per_request_s, rate in rows:
        print(f"| {name} | {per_request_s * 1000:.1f} | {rate:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

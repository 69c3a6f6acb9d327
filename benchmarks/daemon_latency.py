"""Daemon request round-trip latency and signed event throughput.

1. Round trip: starts a real daemon (``python -m xdub_daemon``, tiny test model, temp folders,
   tcp loopback) and times ``hello``-negotiated ``list`` and ``get`` requests from one client:
   sign, send, the daemon's checks and SQLite query, reply, verify.
2. Events: the daemon's PUB path in-process (``bind_server_sockets`` + ``Session.serialize``
   of ``ProgressEvent``) to one SUB that verifies every event (``Session.deserialize``).

    .venv/bin/python benchmarks/daemon_latency.py [--requests 2000] [--events 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.daemon import DaemonProcess  # noqa: E402

from xdub.protocol.messages import GetJob, ListJobs, ProgressEvent
from xdub.protocol.records import Progress, Stage
from xdub.protocol.signing import Session
from xdub.protocol.zmq_transport import bind_server_sockets, set_curve_client
from xdub.weights.tiny import make_tiny_folder  # noqa: E402


def _percentiles_us(samples_s: list[float]) -> str:
    ordered = sorted(samples_s)
    p50 = statistics.median(ordered) * 1e6
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1e6
    return (
        f"median {p50:7.0f} us, p99 {p99:7.0f} us, mean {statistics.fmean(ordered) * 1e6:7.0f} us"
    )


def bench_round_trip(num_requests: int) -> None:
    with tempfile.TemporaryDirectory(prefix="xdub-bench-") as folder:
        daemon = DaemonProcess(Path(folder), make_tiny_folder(Path(folder) / "model").root)
        daemon.start()
        try:
            with daemon.client("bench") as client:
                client.hello()
                for name, request in (("list", ListJobs(limit=10)), ("get", GetJob("none"))):
                    samples = []
                    for _ in range(num_requests):
                        start = time.perf_counter()
                        client.transport.request(request.MSG_TYPE, request)
                        samples.append(time.perf_counter() - start)
                    print(f"round trip {name:<5} x{num_requests}: {_percentiles_us(samples)}")
        finally:
            daemon.stop()


def bench_events(num_events: int) -> None:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    router, pub, addresses = bind_server_sockets(context)
    pub.setsockopt(zmq.SNDHWM, 0)
    key = os.urandom(32)
    sender, receiver = Session(key), Session(key)
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    set_curve_client(sub, addresses.event_server_key)  # events over tcp are CURVE-encrypted
    sub.connect(addresses.event_address)
    time.sleep(0.5)  # the slow joiner: let the subscription reach the PUB
    progress = Progress(Stage.DENOISE, 1, 4, 5, 30, 0.2, 12.0)
    event = ProgressEvent("3f6c2a1e9b8d4e7f8a6b5c4d3e2f1a0b", progress)

    def publish_all() -> None:
        for _ in range(num_events):
            frames = sender.serialize(event.MSG_TYPE, event, identities=[b"progress"])
            pub.send_multipart(frames)

    start = time.perf_counter()
    thread = threading.Thread(target=publish_all)
    thread.start()
    for _ in range(num_events):
        receiver.deserialize(sub.recv_multipart())
    elapsed_s = time.perf_counter() - start
    thread.join()
    rate = num_events / elapsed_s
    print(f"events: {num_events} signed progress events in {elapsed_s:.2f} s = {rate:,.0f}/s")
    for socket in (sub, pub, router):
        socket.close(linger=0)
    context.term()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    bench_events(args.events)
    bench_round_trip(args.requests)


if __name__ == "__main__":
    main()

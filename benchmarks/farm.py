"""Farm throughput: jobs per minute with 1 and 2 Ray actors (tiny test model, CPU).

For each actor count: a local Ray head (``tests/support/ray_head.py``) offering that many
``xdub_gpu`` units, a daemon with ``--backend ray`` on it, one warm-up job per actor (the
media stack's first import), then ``--jobs`` jobs submitted at once and timed from the first
submit to the last ``done``. On a machine with fewer free cores than actors the second actor
competes for the CPU with the first; on GPUs each actor has its own.

    .venv/bin/python benchmarks/farm.py [--jobs 6] [--seconds 1.2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.daemon import DaemonProcess, make_clip  # noqa: E402
from support.ray_head import GPU_RESOURCE, RayHead  # noqa: E402

from xdub.protocol.records import Codec, DubOptions, JobState  # noqa: E402


def _jobs_per_minute(root: Path, model: Path, otio: str, num_actors: int, num_jobs: int) -> float:
    with RayHead(num_gpus=num_actors) as head:
        args = ("--backend", "ray", "--ray-address", head.address)
        args += ("--ray-resource", GPU_RESOURCE, "--ray-actors", str(num_actors))
        daemon = DaemonProcess(root / f"daemon-{num_actors}", model, head.env, args)
        daemon.start()
        try:
            with daemon.client("farm-bench") as client:
                warm = [
                    client.submit(otio, DubOptions(codec=Codec.H264, num_steps=1, seed=s))
                    for s in range(num_actors)
                ]
                for reply in warm:
                    assert client.wait(reply.job_id, 600).state is JobState.DONE
                started = time.monotonic()
                ids = [
                    client.submit(otio, DubOptions(codec=Codec.H264, num_steps=1, seed=100 + i))
                    for i in range(num_jobs)
                ]
                for reply in ids:
                    job = client.wait(reply.job_id, 1800)
                    assert job.state is JobState.DONE, job.error
                elapsed_s = time.monotonic() - started
        finally:
            daemon.stop()
    return num_jobs / elapsed_s * 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=1.2, help="clip length")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xdub-farm-") as folder:
        root = Path(folder)
        from xdub.weights.tiny import make_tiny_folder

        model = make_tiny_folder(root / "model").root
        clip = make_clip(root, "clip", args.seconds, seed=1, size=(320, 192))
        rates = {n: _jobs_per_minute(root, model, clip.otio, n, args.jobs) for n in (1, 2)}
    for num_actors, rate in rates.items():
        print(
            f"{num_actors} actor(s): {rate:.1f} jobs/min ({args.jobs} jobs, {args.seconds} s clip)"
        )
    print(f"speed-up with 2 actors: {rates[2] / rates[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Farm throughput: jobs per minute with 1 and 2 Ray actors, and one long take's time with 1
actor (whole) and 2 (split into two segments that run at once); tiny test model, CPU.

For each actor count: a local Ray head (``tests/support/ray_head.py``) offering that many
``xdub_gpu`` units, a daemon with ``--backend ray`` on it, one warm-up job per actor (the
media stack's first import), then ``--jobs`` jobs submitted at once and timed from the first
submit to the last ``done``; then one ``--take-seconds`` take, timed from submit to ``done``
(the split take's plan, segments and assembly included). Actors run on one thread each
(``OMP_NUM_THREADS=1``); on a machine with fewer free cores than actors the second actor
competes for the CPU with the first; on GPUs each actor has its own.

    .venv/bin/python benchmarks/farm.py [--jobs 6] [--seconds 1.2] [--take-seconds 17.5]
        [--take-steps 8]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.daemon import DaemonProcess, make_clip  # noqa: E402
from support.ray_head import GPU_RESOURCE, RayHead  # noqa: E402

from xdub.protocol.records import Codec, DubOptions, JobState  # noqa: E402

PART_LINE = re.compile(
    r"^(\S+ \S+) .*job (\w+) \((plan|windows \d+-\d+|assemble)\) (runs on|done on)", re.M
)


def _split_phases(log_text: str, job_id: str) -> str:
    """How long a split take's parts ran, from the daemon's log: the plan, each segment and
    the segments' span (shorter than their sum when they ran at once)."""
    times: dict[tuple[str, str], datetime] = {}
    for stamp, job, part, what in PART_LINE.findall(log_text):
        if job == job_id:
            times[part, what] = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
    segments = sorted({part for part, _ in times if part.startswith("windows")})
    if not segments:
        return "not split"

    def span(first: tuple[str, str], last: tuple[str, str]) -> float:
        return (times[last] - times[first]).total_seconds()

    each = [span((s, "runs on"), (s, "done on")) for s in segments]
    started = min(times[s, "runs on"] for s in segments)
    ended = max(times[s, "done on"] for s in segments)
    return (
        f"plan {span(('plan', 'runs on'), ('plan', 'done on')):.1f} s, segments "
        f"{' + '.join(f'{s:.1f}' for s in each)} s in {(ended - started).total_seconds():.1f} s, "
        f"then the assembly"
    )


@contextmanager
def _farm_client(
    root: Path, model: Path, otio: str, num_actors: int
) -> Iterator[tuple[Any, DaemonProcess]]:
    """A client of a farm daemon with ``num_actors`` actors, each warmed up by one job, and
    the daemon (for its log)."""
    with RayHead(num_gpus=num_actors) as head:
        args = ("--backend", "ray", "--ray-address", head.address)
        args += ("--ray-resource", GPU_RESOURCE, "--ray-actors", str(num_actors))
        daemon = DaemonProcess(root / f"daemon-{num_actors}", model, head.env, args)
        daemon.start()
        try:
            with daemon.client("farm-bench") as client:
                _run(client, [otio] * num_actors, seed=0)
                yield client, daemon
        finally:
            daemon.stop()


def _run(client: Any, otios: list[str], seed: int, num_steps: int = 1) -> tuple[float, list[str]]:
    """Submit every job at once: the seconds until the last is done, and the job ids."""
    started = time.monotonic()
    options = [
        DubOptions(codec=Codec.H264, num_steps=num_steps, seed=seed + i) for i in range(len(otios))
    ]
    ids = [client.submit(otio, option).job_id for otio, option in zip(otios, options, strict=True)]
    for job_id in ids:
        job = client.wait(job_id, 3600)
        assert job.state is JobState.DONE, job.error
    return time.monotonic() - started, ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=1.2, help="clip length")
    parser.add_argument("--take-seconds", type=float, default=17.5, help="the long take (s)")
    parser.add_argument(
        "--take-steps",
        type=int,
        default=8,
        help="its denoising steps (the tiny model's take is face tracking for the most part "
        "at 1 step; a real model's is denoising)",
    )
    args = parser.parse_args()
    rates: dict[int, float] = {}
    takes_s: dict[int, float] = {}
    phases: dict[int, str] = {}
    with tempfile.TemporaryDirectory(prefix="xdub-farm-") as folder:
        root = Path(folder)
        from xdub.weights.tiny import make_tiny_folder

        model = make_tiny_folder(root / "model").root
        clip = make_clip(root, "clip", args.seconds, seed=1, size=(320, 192))
        long = make_clip(root, "long", args.take_seconds, seed=2, size=(320, 192))
        for num_actors in (1, 2):
            with _farm_client(root, model, clip.otio, num_actors) as (client, daemon):
                jobs_s, _ = _run(client, [clip.otio] * args.jobs, 100)
                rates[num_actors] = args.jobs / jobs_s * 60
                takes_s[num_actors], [take_id] = _run(client, [long.otio], 200, args.take_steps)
                phases[num_actors] = _split_phases(daemon.log_text(), take_id)
    for num_actors in (1, 2):
        print(
            f"{num_actors} actor(s): {rates[num_actors]:.1f} jobs/min ({args.jobs} jobs, "
            f"{args.seconds} s clip); one {args.take_seconds} s take ({args.take_steps} steps) in "
            f"{takes_s[num_actors]:.1f} s ({phases[num_actors]})"
        )
    print(
        f"speed-up with 2 actors: {rates[2] / rates[1]:.2f}x jobs/min, "
        f"{takes_s[1] / takes_s[2]:.2f}x for the long take"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

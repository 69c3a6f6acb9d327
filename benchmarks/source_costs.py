"""Per-frame cost of reading the source at 1080p: decode, RGB conversion, and the frame ring.

    .venv/bin/python benchmarks/source_costs.py [--frames 100] [--width 1920 --height 1080]

The figures behind the take's two decodes (docs/media.md, "How often the source is read"):
what a decode pass costs per frame, what keeping a frame in the ``FrameRing`` costs instead
(a write and a read through the page cache), and the disk a kept frame takes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from xdub.media.decode import iter_frames
from xdub.media.frame_ring import FrameRing
from xdub.media.synthetic import SyntheticVideoSpec, write_synthetic_video


def best_of(runs: int, work: object) -> float:
    """Smallest wall time of ``runs`` calls of ``work()`` in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        clip = Path(work) / "clip.mp4"
        duration_s = args.frames / 25
        write_synthetic_video(
            clip, SyntheticVideoSpec(width=args.width, height=args.height, duration_s=duration_s)
        )
        frames = [f.rgb for f in iter_frames(clip)][:8]
        decode_s = best_of(args.runs, lambda: [None for _ in iter_frames(clip)])
        rgb_s = best_of(args.runs, lambda: [f.rgb for f in iter_frames(clip)])
        ring = FrameRing(Path(work) / "ring", 64, args.height, args.width)

        def ring_round_trip() -> None:
            for index in range(args.frames):
                ring.push(frames[index % len(frames)])
                ring.pop()

        ring_s = best_of(args.runs, ring_round_trip)
        ring.close()
    per_frame_ms = {
        "decode": decode_s / args.frames * 1e3,
        "decode + rgb": rgb_s / args.frames * 1e3,
        "ring push + pop": ring_s / args.frames * 1e3,
    }
    frame_mb = args.width * args.height * 3 / 1e6
    for name, value in per_frame_ms.items():
        print(f"{name:>16}: {value:6.2f} ms/frame")
    print(f"{'kept frame':>16}: {frame_mb:6.2f} MB (RGB); a minute at 25 fps: "
          f"{frame_mb * 1500 / 1e3:.1f} GB")  # fmt: skip


if __name__ == "__main__":
    main()

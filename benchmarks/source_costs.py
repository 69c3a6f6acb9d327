"""Per-frame cost of reading the source at 1080p: decode, RGB conversion, ring and spool.

    .venv/bin/python benchmarks/source_costs.py [--frames 100] [--width 1920 --height 1080]

The figures behind the take's one decode (docs/media.md, "How often the source is read"):
what a decode pass costs per frame, what keeping a frame in the ``FrameSpool`` costs instead
of decoding it again (a write and a read through the page cache), the ``FrameRing`` round
trip of the two-decode fallback, the disk a kept frame takes, and the whole source reading of a take
both ways (``model_frames`` then the crops and paste frames of ``SpoolPass`` / ``SourcePass``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from xdub.face.crop_store import CropStore
from xdub.media.decode import iter_frames
from xdub.media.frame_ring import FrameRing
from xdub.media.frame_spool import FrameSpool
from xdub.media.probe import scan_media
from xdub.media.synthetic import SyntheticVideoSpec, write_synthetic_video
from xdub.take_plan import TakePlan, plan_take
from xdub.take_source import SourcePass, SpoolPass, model_frames

CROP_SIZE = 512


def best_of(runs: int, work: object) -> float:
    """Smallest wall time of ``runs`` calls of ``work()`` in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def take_reading_s(plan: TakePlan, work: Path, *, spooled: bool) -> float:
    """Seconds to read a take's source: the landmark pass, then every crop and paste frame."""
    info, count = plan.info, plan.info.num_frames
    height, width = info.display_height, info.display_width
    boxes = np.tile(np.array([0, 0, min(width, height), min(width, height)]), (count, 1))
    crops = CropStore(work / "crops.npy", plan.num_model_frames, CROP_SIZE)
    started = time.perf_counter()
    if spooled:
        with FrameSpool(work / "source.rgb", count, height, width) as spool:
            for _ in model_frames(plan, spool):
                pass
            source: SourcePass | SpoolPass = SpoolPass(
                plan, boxes, crops, CROP_SIZE, spool, lambda: None
            )
            _read_all(source, count)
    else:
        for _ in model_frames(plan):
            pass
        ring = FrameRing(work / "frames.rgb", count, height, width)
        source = SourcePass(plan, boxes, crops, CROP_SIZE, ring, lambda: None)
        _read_all(source, count)
        source.close()
        ring.close()
    crops.close()
    return time.perf_counter() - started


def _read_all(source: SourcePass | SpoolPass, count: int) -> None:
    source.decode_until(count)
    for index in range(count):
        source.frame(index)


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
        spool = FrameSpool(Path(work) / "spool", args.frames, args.height, args.width)

        def spool_write_read() -> None:
            for index in range(args.frames):
                spool.write(index, frames[index % len(frames)])
            for index in range(args.frames):
                spool.read(index)

        spool_s = best_of(args.runs, spool_write_read)
        spool.close()
        plan = plan_take(scan_media(clip), None)
        takes_s = {
            name: min(take_reading_s(plan, Path(work), spooled=spooled) for _ in range(args.runs))
            for name, spooled in (("take: two decodes", False), ("take: spool", True))
        }
    per_frame_ms = {
        "decode": decode_s / args.frames * 1e3,
        "decode + rgb": rgb_s / args.frames * 1e3,
        "ring push + pop": ring_s / args.frames * 1e3,
        "spool write+read": spool_s / args.frames * 1e3,
        **{name: value / args.frames * 1e3 for name, value in takes_s.items()},
    }
    frame_mb = args.width * args.height * 3 / 1e6
    for name, value in per_frame_ms.items():
        print(f"{name:>17}: {value:6.2f} ms/frame")
    print(f"{'kept frame':>17}: {frame_mb:6.2f} MB (RGB); a minute at 25 fps: "
          f"{frame_mb * 1500 / 1e3:.1f} GB")  # fmt: skip


if __name__ == "__main__":
    main()

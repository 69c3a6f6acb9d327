"""Seconds per frame of ``xdub.eval.evaluate_take`` (the daemon's quality check without the
landmark pass) and of the weight-free sync estimate, on generated clips.

Run: ``.venv/bin/python benchmarks/eval_speed.py [--sizes 160x96 1280x720] [--duration-s 4]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from xdub.eval.evaluate import EvalInputs, evaluate_take
from xdub.eval.mouth import truth_track
from xdub.eval.sync import estimate_offset, speech_envelope
from xdub.media.audio import load_audio
from xdub.media.synthetic import AudioSpec, SyntheticVideoSpec, write_synthetic_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", default=["160x96", "1280x720"])
    parser.add_argument("--duration-s", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            spec = SyntheticVideoSpec(
                width=width, height=height, duration_s=args.duration_s, audio=AudioSpec()
            )
            clip = write_synthetic_video(Path(folder) / f"{size}.mp4", spec)
            clip.save_truth(Path(folder) / f"{size}.json")
            mouth = truth_track(Path(folder) / f"{size}.json")
            started = time.perf_counter()
            report = evaluate_take(clip.path, clip.path, EvalInputs(mouth=mouth))
            elapsed = time.perf_counter() - started
            samples = load_audio(clip.path)
            times = np.asarray(clip.frame_times_s)
            sync_started = time.perf_counter()
            estimate_offset(mouth.opening, speech_envelope(samples, 16000, times))
            sync_s = time.perf_counter() - sync_started
            print(
                f"{size}: {report.num_frames} frames, evaluate_take {elapsed:.2f} s "
                f"({1000 * elapsed / report.num_frames:.1f} ms/frame, incl. decoding both), "
                f"sync estimate {1000 * sync_s:.1f} ms"
            )


if __name__ == "__main__":
    main()

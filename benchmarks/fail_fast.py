"""How long ``xdub dub --local`` takes to refuse each bad input (issue 20, "Fail fast").

Each case (``xdub.media.bad_samples``) runs as a user runs it, ``python -m xdub dub --local
VIDEO AUDIO -o OUT --model TINY``, timed from process start to exit; ``--python`` picks the
interpreter (another tree's venv measures the code before a change).

    .venv/bin/python benchmarks/fail_fast.py [--python /work/main/.venv/bin/python] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xdub.media.bad_samples import BAD_VIDEO_CASES, write_bad_video
from xdub.media.synthetic import AudioSpec, SpeechTrack, write_synthetic_audio
from xdub.weights.tiny import make_tiny_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="a folder holding the xdub package to time")
    parser.add_argument("--runs", type=int, default=3, help="runs per case (median shown)")
    args = parser.parse_args()
    env = dict(os.environ)
    cwd = None
    if args.source is not None:
        env["PYTHONPATH"] = str(args.source.resolve())
        cwd = args.source.resolve()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        model = make_tiny_folder(root / "model").root
        audio = root / "line.wav"
        write_synthetic_audio(audio, SpeechTrack.generate(1.0, seed=2), AudioSpec())
        for case in BAD_VIDEO_CASES:
            video = write_bad_video(case, root / case)
            command = [sys.executable, "-m", "xdub", "dub", "--local", str(video), str(audio)]
            command += ["-o", str(root / "take.mp4"), "--model", str(model), "--device", "cpu"]
            times_s, cpu_s, reason = [], [], ""
            for _ in range(args.runs):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                result = subprocess.run(
                    command, capture_output=True, text=True, timeout=600, cwd=cwd, env=env
                )
                times_s.append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu_s.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
                lines = [line for line in result.stderr.splitlines() if "error" in line]
                reason = (lines or result.stderr.splitlines()[-1:] or [""])[-1][:90]
            wall, cpu = statistics.median(times_s), statistics.median(cpu_s)
            print(
                f"{case:<14} rc={result.returncode} wall {wall:6.2f} s cpu {cpu:6.2f} s  {reason}"
            )


if __name__ == "__main__":
    main()

"""Take encode speed: frames per second of ``TakeWriter`` at 1920x1080 for each codec.

Each codec writes the same panning textured picture (a new position every frame, so H.264's
motion search has work to do) with 48 kHz stereo audio into a temporary folder. Timed: every
``write`` (RGB -> YUV conversion, encoding, muxing) and the finish (flush, audio, fsync,
rename); drawing the pictures is not. Also reports the RGB -> YUV conversion alone.

    .venv/bin/python benchmarks/encode_speed.py [--frames 48] [--width 1920 --height 1080]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

from xdub.media.codecs import VIDEO_CODECS, TakeSettings
from xdub.media.encode import TakeAudio, TakeWriter
from xdub.media.synthetic_face import textured_background

FPS = Fraction(25)
PAN_PX_PER_FRAME = 3
AUDIO_RATE_HZ = 48000


def picture(background: np.ndarray, index: int) -> np.ndarray:
    """``background`` panned left by ``PAN_PX_PER_FRAME`` px per frame: (H, W, 3) uint8."""
    return np.roll(background, -PAN_PX_PER_FRAME * index, axis=1)


def time_take(
    codec: str, background: np.ndarray, num_frames: int, folder: Path
) -> tuple[float, int]:
    """(seconds spent in TakeWriter, file size in bytes) for one take of ``num_frames``."""
    height, width = background.shape[:2]
    num_samples = round(num_frames / FPS * AUDIO_RATE_HZ)
    audio = TakeAudio(np.zeros((num_samples, 2), np.float32), AUDIO_RATE_HZ)
    settings = TakeSettings(codec)
    path = folder / f"take{settings.default_suffix}"
    elapsed_s = 0.0
    writer = TakeWriter(path, width=width, height=height, fps=FPS, audio=audio, settings=settings)
    start = time.perf_counter()
    with writer:
        elapsed_s += time.perf_counter() - start
        for index in range(num_frames):
            frame = picture(background, index)
            start = time.perf_counter()
            writer.write(frame)
            elapsed_s += time.perf_counter() - start
        start = time.perf_counter()
    elapsed_s += time.perf_counter() - start
    return elapsed_s, path.stat().st_size


def conversion_ms(codec: str, background: np.ndarray, repeats: int = 10) -> float:
    """Milliseconds per frame of the RGB -> YUV conversion alone (as ``TakeWriter`` does it)."""
    reformatter = VideoReformatter()
    pixel_format = VIDEO_CODECS[codec].pixel_format
    start = time.perf_counter()
    for _ in range(repeats):
        rgb = av.VideoFrame.from_ndarray(background, format="rgb24")
        reformatter.reformat(
            rgb,
            format=pixel_format,
            dst_colorspace=Colorspace.ITU709,
            dst_color_range=ColorRange.MPEG,
        )
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args()
    background = textured_background(args.height, args.width, seed=0)
    print(f"{args.width}x{args.height}, {args.frames} frames at {FPS} fps, {os.cpu_count()} CPUs")
    print(f"{'codec':<10} {'frames/s':>9} {'x realtime':>10} {'Mbit/s':>8} {'rgb->yuv ms':>12}")
    with tempfile.TemporaryDirectory(prefix="xdub-encode-speed-") as folder:
        for codec in VIDEO_CODECS:
            elapsed_s, size_bytes = time_take(codec, background, args.frames, Path(folder))
            fps = args.frames / elapsed_s
            bitrate = size_bytes * 8 / (args.frames / FPS) / 1e6
            print(
                f"{codec:<10} {fps:9.1f} {fps / float(FPS):10.2f} {bitrate:8.1f} "
                f"{conversion_ms(codec, background):12.1f}"
            )


if __name__ == "__main__":
    main()

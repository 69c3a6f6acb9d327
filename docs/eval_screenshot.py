"""Render an ``xdub eval`` HTML report in headless Chromium to ``docs/img/eval-report.png``.

The scene is made here: a 6 s synthetic talking clip (two window seams), a "take" made from it
by blurring the frames around the seams a little and re-encoding it, and its dialogue delayed
by 2 frames, so the report shows a sync flag and seam dips. The mouth comes from the clip's
synthetic truth. Needs Debian's ``chromium`` (``apt-get install -y chromium``).
Run: ``.venv/bin/python docs/eval_screenshot.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from xdub.eval.evaluate import EvalInputs, evaluate_take
from xdub.eval.html import render_html
from xdub.eval.mouth import truth_track
from xdub.media.audio import load_audio
from xdub.media.audio_writer import write_audio_file
from xdub.media.decode import iter_frames
from xdub.media.synthetic import AudioSpec, SyntheticVideoSpec, write_synthetic_video

IMG = Path(__file__).resolve().parent / "img" / "eval-report.png"
WINDOW_PX = (880, 1900)
SEAM_FRAMES = (range(70, 79), range(142, 151))


def make_take(source: Path, take: Path) -> None:
    """The source with the seam frames blurred, as H.264 CRF 16."""
    with av.open(str(take), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(25), options={"crf": "16"})
        stream.pix_fmt = "yuv420p"
        for frame in iter_frames(source):
            rgb = frame.rgb
            if any(frame.index in seam for seam in SEAM_FRAMES):
                rgb = cv2.GaussianBlur(rgb, (0, 0), 1.2)
            if frame.index == 0:
                stream.height, stream.width = rgb.shape[:2]
            out = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            out.pts = frame.index
            container.mux(stream.encode(out))
        container.mux(stream.encode(None))


def main() -> int:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("needs chromium: apt-get install -y chromium", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix="xdub-eval-shot-"))
    try:
        spec = SyntheticVideoSpec(width=320, height=192, duration_s=6.0, seed=4, audio=AudioSpec())
        clip = write_synthetic_video(root / "A012_C004.mp4", spec)
        clip.save_truth(root / "truth.json")
        take = root / "A012_C004-take.mp4"
        make_take(clip.path, take)
        samples = load_audio(clip.path)
        delay = round(2 * 16000 / 25)
        late = np.concatenate([np.zeros(delay, np.float32), samples])[: len(samples)]
        dialogue = root / "dialogue.wav"
        write_audio_file(dialogue, iter([late[:, None]]), 16000, 1)
        inputs = EvalInputs(mouth=truth_track(root / "truth.json"), dialogue=dialogue)
        page = root / "report.html"
        page.write_text(render_html(evaluate_take(clip.path, take, inputs)), encoding="utf-8")
        IMG.parent.mkdir(exist_ok=True)
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--window-size={WINDOW_PX[0]},{WINDOW_PX[1]}", f"--screenshot={IMG}",
             page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        # A 256-colour palette keeps the PNG small enough to commit (about 140 kB).
        Image.open(IMG).convert("RGB").quantize(256).save(IMG, optimize=True)
        print(IMG)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

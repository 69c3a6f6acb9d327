"""The upload cost of the remote path: 1080p footage to a ``--listen`` daemon over loopback.

Starts a real daemon (``python -m xdub_daemon --listen 127.0.0.1:0``: CURVE on both sockets,
HMAC-signed messages, tiny test model, temp folders), writes a 1080p25 ProRes clip with
``xdub.media.synthetic``, and uploads it with ``DaemonClient``'s ``Uploader`` (sha256 of the
file, then 4 MiB chunks: base64, signing, CURVE, the daemon's chunk check and write, and its
whole-file check at the end). A second pass of the same file is the deduplicated one (the
hash, one ``upload_status``, 0 chunks). Prints MB/s and seconds per minute of footage, for the
generated file's bytes per minute and for camera ProRes 422 HQ's nominal rate.

``--used-s S`` instead measures the used-range cut (``xdub.job.cut_source``): a
``--source-s`` long 1080p25 H.264 source at a camera's ``--mbps`` (2 s GOP, B-frames) of which
a job uses ``S`` seconds in the middle, uploaded as a job whole (``upload_job_media``) and then
as ``DaemonClient.upload_media`` sends it (the cut, then the upload): bytes and seconds of each.

    .venv/bin/python benchmarks/upload.py [--clip-s 4] [--chunk-mib 4]
    .venv/bin/python benchmarks/upload.py --used-s 4 [--source-s 60] [--mbps 20]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.daemon import DaemonProcess  # noqa: E402

from xdub.job.cut_source import cut_job_source  # noqa: E402
from xdub.protocol.transfer import sha256_of, upload_job_media  # noqa: E402
from xdub.weights.tiny import make_tiny_folder  # noqa: E402

PRORES_HQ_1080P25_BPS = 176e6
"""ProRes 422 HQ at 1920x1080, 25 fps: 176 Mbit/s nominal (Apple's white paper), i.e. camera
footage; synthetic pictures compress far better, so both rates are reported."""
MB = 1e6
LISTEN = ("--listen", "127.0.0.1:0")
"""A remote daemon (CURVE, uploads) on loopback."""


def _footage(path: Path, clip_s: float) -> float:
    from xdub.media.synthetic import SyntheticVideoSpec, write_synthetic_video

    start = time.perf_counter()
    spec = SyntheticVideoSpec(
        width=1920, height=1080, fps=Fraction(25), duration_s=clip_s, codec="prores", seed=1
    )
    write_synthetic_video(path, spec)
    return time.perf_counter() - start


def _camera_h264(path: Path, duration_s: float, mbps: float) -> None:
    """1080p25 H.264 at about ``mbps`` (noise keeps x264 at its bitrate; ultrafast to keep
    the setup short): a 2 s GOP with B-frames, as cameras and phones write."""
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8) for _ in range(5)]
    bits = str(int(mbps * 1e6))
    options = {"preset": "ultrafast", "g": "50", "bf": "2", "b": bits, "maxrate": bits}
    options["bufsize"] = bits
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options=options)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        for i in range(round(duration_s * 25)):
            frame = av.VideoFrame.from_ndarray(noise[i % len(noise)], format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _cut_costs(args: argparse.Namespace) -> int:
    """Upload a job using ``args.used_s`` of a long source whole, then cut (see above)."""
    from opentimelineio.opentime import RationalTime, TimeRange

    from xdub.job.timeline import DialogueClip, SourceClip, build_job, job_to_json
    from xdub.media.synthetic import AudioSpec, write_synthetic_audio
    from xdub.media.synthetic_speech import SpeechTrack

    with tempfile.TemporaryDirectory(prefix="xdub-cut-bench-") as folder:
        root = Path(folder)
        client_dir = root / "client"
        client_dir.mkdir()
        video, speech = client_dir / "camera.mp4", client_dir / "dialogue.wav"
        start = time.perf_counter()
        _camera_h264(video, args.source_s, args.mbps)
        write_synthetic_audio(speech, SpeechTrack.generate(args.used_s, 0), AudioSpec())
        size = video.stat().st_size
        print(
            f"source: 1920x1080 25 fps H.264 (2 s GOP), {args.source_s:g} s, {size / MB:.1f} MB "
            f"(made in {time.perf_counter() - start:.0f} s, not timed); the job uses "
            f"{args.used_s:g} s from {args.source_s / 2:g} s"
        )
        first = round(args.source_s / 2 * 25)
        used = TimeRange(RationalTime(first, 25), RationalTime(round(args.used_s * 25), 25))
        heard = TimeRange(RationalTime(0, 16000), RationalTime(round(args.used_s * 16000), 16000))
        dialogue = DialogueClip(speech, heard, RationalTime(0, 25))
        job = job_to_json(build_job(SourceClip(video, used), [dialogue], name="b", host="b"))
        server = root / "server"
        daemon = DaemonProcess(server, make_tiny_folder(server / "model").root, extra_args=LISTEN)
        daemon.start()
        try:
            with daemon.client(timeout_s=60.0) as client:
                client.chunk_bytes = args.chunk_mib * 2**20
                client.hello()
                whole = client.uploader()
                start = time.perf_counter()
                upload_job_media(whole, job)
                whole_s = time.perf_counter() - start
                start = time.perf_counter()
                (root / "cut").mkdir()
                cut_job_source(job, root / "cut")  # the cut alone, timed apart
                cut_alone_s = time.perf_counter() - start
                start = time.perf_counter()
                client.upload_media(job)
                cut_s = time.perf_counter() - start
                cut_stats = client.last_transfer
        finally:
            daemon.stop()
    print(f"whole: {whole.stats.bytes / MB:.1f} MB sent in {whole_s:.2f} s")
    print(
        f"cut:   {cut_stats.bytes / MB:.1f} MB sent in {cut_s:.2f} s (cut + hash + upload; "
        f"the cut alone {cut_alone_s:.2f} s)"
    )
    ratio = whole.stats.bytes / max(cut_stats.bytes, 1)
    print(f"  {ratio:.1f}x fewer bytes, {whole_s / cut_s:.1f}x faster")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip-s", type=float, default=4.0, help="footage length, seconds")
    parser.add_argument("--chunk-mib", type=int, default=4)
    parser.add_argument("--used-s", type=float, help="measure the used-range cut instead")
    parser.add_argument("--source-s", type=float, default=60.0, help="with --used-s")
    parser.add_argument("--mbps", type=float, default=20.0, help="with --used-s: its bitrate")
    args = parser.parse_args(argv)
    if args.used_s is not None:
        return _cut_costs(args)
    with tempfile.TemporaryDirectory(prefix="xdub-upload-bench-") as folder:
        root = Path(folder)
        clip = root / "client" / "footage.mov"
        clip.parent.mkdir()
        made_s = _footage(clip, args.clip_s)
        size = clip.stat().st_size
        print(f"footage: 1920x1080 25 fps synthetic ProRes, {args.clip_s:g} s, {size / MB:.1f} MB")
        print(f"  (generated in {made_s:.1f} s; not part of the upload)")
        server = root / "server"
        daemon = DaemonProcess(server, make_tiny_folder(server / "model").root, extra_args=LISTEN)
        daemon.start()
        try:
            with daemon.client(timeout_s=60.0) as client:
                client.chunk_bytes = args.chunk_mib * 2**20
                client.hello()
                start = time.perf_counter()
                sha256_of(clip)
                hash_s = time.perf_counter() - start
                first = client.uploader()
                start = time.perf_counter()
                first.upload_file(clip)
                first_s = time.perf_counter() - start
                second = client.uploader()
                start = time.perf_counter()
                second.upload_file(clip)
                second_s = time.perf_counter() - start
        finally:
            daemon.stop()
        stored = next((root / "server" / "data" / "uploads").glob("[0-9a-f]*"))
        assert stored.stat().st_size == size
        shutil.rmtree(root / "server", ignore_errors=True)
    rate = size / first_s / MB
    footage_mb_per_min = size / MB / args.clip_s * 60
    camera_mb_per_min = PRORES_HQ_1080P25_BPS / 8 / MB * 60
    print(f"client sha256 of the file: {hash_s:.2f} s ({size / hash_s / MB:.0f} MB/s)")
    print(
        f"first upload: {first_s:.2f} s, {first.stats.chunks} chunks of {args.chunk_mib} MiB, "
        f"{rate:.0f} MB/s (hash included)"
    )
    print(
        f"  per footage-minute: {footage_mb_per_min / rate:.1f} s for this file "
        f"({footage_mb_per_min:.0f} MB/min); {camera_mb_per_min / rate:.1f} s for camera "
        f"ProRes HQ ({camera_mb_per_min:.0f} MB/min)"
    )
    print(
        f"second upload (deduplicated): {second_s:.3f} s, {second.stats.chunks} chunks sent "
        f"({second.stats.files_skipped} file skipped; the client's hash is most of it)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

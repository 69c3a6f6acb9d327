"""The upload cost of the remote path: 1080p footage to a ``--listen`` daemon over loopback.

Starts a real daemon (``python -m xdub_daemon --listen 127.0.0.1:0``: CURVE on both sockets,
HMAC-signed messages, tiny test model, temp folders), writes a 1080p25 ProRes clip with
``xdub.media.synthetic``, and uploads it with ``DaemonClient``'s ``Uploader`` (sha256 of the
file, then 4 MiB chunks: base64, signing, CURVE, the daemon's chunk check and write, and its
whole-file check at the end). A second pass of the same file is the deduplicated one (the
hash, one ``upload_status``, 0 chunks). Prints MB/s and seconds per minute of footage, for the
generated file's bytes per minute and for camera ProRes 422 HQ's nominal rate.

    .venv/bin/python benchmarks/upload.py [--clip-s 4] [--chunk-mib 4]
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

from xdub.protocol.transfer import sha256_of
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip-s", type=float, default=4.0, help="footage length, seconds")
    parser.add_argument("--chunk-mib", type=int, default=4)
    args = parser.parse_args(argv)
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

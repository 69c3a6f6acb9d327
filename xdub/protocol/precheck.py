"""Checks a dub request passes before anything heavy runs: files, folders and free disk space.

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module, so a plugin
refuses a folder given as the clip, an unwritable output folder or a full disk at once, before
it talks to the daemon. The CLI and the daemon run the same checks, then probe the media
(PyAV), all before torch is imported. The disk-full errors of the whole tree come from here.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from xdub.errors import MediaError, XdubError

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})
"""No space left, a file over the size limit (``ulimit -f``), or the quota used up (EDQUOT is
POSIX only): each means "make room", none is a bug."""
BITS_PER_PIXEL = {"prores_hq": 3.6, "dnxhr_hq": 3.6, "h264": 0.6}
"""Upper estimates of a frame's bits per pixel: ProRes 422 HQ and DNxHR HQ are 220 Mbit/s at
1080p30 (3.5); H.264 at CRF 16 stays below 0.6 on camera footage."""
MIN_TAKE_BYTES = 1 << 20
"""Headroom every take needs (container, audio, index), whatever its length."""


def disk_full_error(folder: Path | None, needed_bytes: int | None, what: str) -> MediaError:
    """The error for ``what`` not fitting in ``folder``: names the folder and the space
    (``None``: not known)."""
    where = f" in {folder}" if folder is not None else ""
    free = _free_bytes(folder) if folder is not None else None
    have = f"{_size_text(free)} free" if free is not None else "the disk is full"
    needs = f"it needs about {_size_text(needed_bytes)}, " if needed_bytes is not None else ""
    room = f"at least {_size_text(needed_bytes)}" if needed_bytes is not None else "space"
    drive = f"the drive holding {folder}" if folder is not None else "the drive"
    return MediaError(
        f"not enough disk space{where} for {what}: {needs}{have}",
        code="disk_full",
        hint=f"free {room} on {drive}, or choose a folder on another drive; then retry",
    )


def disk_full_from(
    error: BaseException, needed_bytes: int | None, what: str, folder: Path | None = None
) -> XdubError | None:
    """``disk_full_error`` for an ``OSError`` that says the disk is full, else None. The
    folder is ``folder``, else that of the file the error names."""
    if not isinstance(error, OSError) or error.errno not in DISK_FULL_ERRNOS:
        return None
    if folder is None and error.filename:
        target = Path(os.fsdecode(error.filename))
        folder = target if target.is_dir() else target.parent
    return disk_full_error(folder, needed_bytes, what)


def check_free_space(folder: Path, needed_bytes: int, what: str) -> None:
    """Raise ``disk_full`` unless ``folder``'s drive has ``needed_bytes`` free."""
    free = _free_bytes(folder)
    if free is not None and free < needed_bytes:
        raise disk_full_error(folder, needed_bytes, what)


def reserve_file(fd: int, path: Path, size_bytes: int, what: str) -> None:
    """Allocate the first ``size_bytes`` of the open file ``fd`` (at ``path``) now, so later
    writes into it (or a memory map over it) never meet a full disk; ``disk_full`` naming the
    folder otherwise. Where the OS has no ``posix_fallocate`` the free space is checked."""
    check_free_space(path.parent, size_bytes, what)
    if not hasattr(os, "posix_fallocate"):
        return
    try:
        os.posix_fallocate(fd, 0, size_bytes)
    except OSError as error:
        full = disk_full_from(error, size_bytes, what, path.parent)
        if full is None:
            raise
        raise full from error


def check_input_file(path: Path, what: str) -> None:
    """Raise ``MediaError`` unless ``path`` is a readable, non-empty file (a folder is named
    as one)."""
    path = Path(path)
    if path.is_dir():
        raise MediaError(
            f"{path} is a folder, not {what}", code="not_a_file", hint=f"choose {what} file"
        )
    if not path.exists():
        raise MediaError(f"{path}: no such file", code="not_found", hint="check the path")
    if not path.is_file():
        raise MediaError(f"{path} is not a regular file, so not {what}", code="not_a_file")
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path} is not readable", code="not_found", hint="check its permissions")
    if path.stat().st_size == 0:
        raise MediaError(f"{path} is empty (0 bytes), not {what}", code="unreadable_media")


def check_output_folder(folder: Path) -> None:
    """Raise ``MediaError`` unless takes can be written in ``folder`` (or its nearest existing
    parent, where it will be created)."""
    existing = _existing(Path(folder))
    if not existing.is_dir():
        raise MediaError(f"{existing} is a file, not a folder for the take", code="write_failed")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise MediaError(
            f"the folder {existing} is not writable",
            code="write_failed",
            hint="choose a folder you can write to",
        )


def estimate_take_bytes(width: int, height: int, num_frames: int, codec: str) -> int:
    """An upper estimate of a take's size in bytes."""
    bits = BITS_PER_PIXEL.get(codec, max(BITS_PER_PIXEL.values()))
    return MIN_TAKE_BYTES + int(width * height * num_frames * bits / 8)


def precheck_dub(
    video: Path, audio: Path, output_folder: Path, *, take_bytes: int = MIN_TAKE_BYTES
) -> None:
    """What a host checks before submitting: both inputs are files, the take's folder is
    writable and has ``take_bytes`` free (see ``estimate_take_bytes``)."""
    check_input_file(video, "a video")
    check_input_file(audio, "an audio or video file")
    check_output_folder(output_folder)
    check_free_space(_existing(Path(output_folder)), take_bytes, "the take")


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(_existing(Path(folder))).free
    except OSError:
        return None


def _size_text(size_bytes: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f} {unit}"
    return f"{size_bytes} bytes"

"""Writing the dubbed take: frames streamed to the encoder, audio muxed, timecode kept, atomically.

``TakeWriter`` is a context manager. Inside it, ``write`` hands each upright RGB frame to the
encoder at once (one frame is held back to learn its duration), and the replacement audio is
encoded alongside so the file is interleaved. On a clean exit the encoder is flushed, the rest
of the audio muxed, the file closed, fsynced and renamed over ``path``; on any exception
(including ``JobCancelled``) the temporary file is deleted and an existing ``path`` is never
touched. The temporary file sits beside ``path`` as ``.<stem>.partial-<random><ext>``.

Odd sizes: chroma subsampling needs even sides (H.264 4:2:0 both, ProRes/DNxHR 4:2:2 the
width; FFmpeg's ProRes garbles an odd width), so such frames are padded by repeating their last
column/row (as the reference does) and the take is one pixel wider or taller than the source;
``TakeWriter.coded_size`` says what was written. An odd height survives in ProRes and DNxHR.
Colour: frames are converted with the BT.709 matrix into limited range and tagged BT.709.
"""

from __future__ import annotations

import glob
import logging
import math
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import cast

import av
import numpy as np
from av.container import OutputContainer
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc, VideoReformatter
from av.video.stream import VideoStream

from xdub.errors import MediaError
from xdub.media.audio_writer import AudioStreamWriter
from xdub.media.codecs import TakeSettings
from xdub.protocol.precheck import (
    DISK_FULL_ERRNOS,
    MIN_TAKE_BYTES,
    disk_full_error,
    estimate_take_bytes,
)
from xdub.protocol.timecode import DROP_FRAME_FPS, TIMECODE_PATTERN

log = logging.getLogger(__name__)

AVCOL_SPC_BT709 = 1
"""FFmpeg's ``AVColorSpace`` value for the BT.709 matrix (PyAV has no enum for stream tags)."""
MAX_TEMP_NAME_TRIES = 8


@dataclass(frozen=True, eq=False)
class TakeAudio:
    """Replacement audio: ``samples`` (N, C) or mono (N,) float32 in [-1, 1] at ``sample_rate_hz``.

    The audio starts with the take (time 0) and keeps exactly its N samples.
    """

    samples: np.ndarray
    sample_rate_hz: int

    def __post_init__(self) -> None:
        if self.samples.ndim not in (1, 2) or self.samples.shape[0] == 0:
            raise ValueError(f"audio must be (N,) or (N, C) with N > 0, not {self.samples.shape}")
        if self.sample_rate_hz <= 0:
            raise ValueError(f"sample rate must be positive, not {self.sample_rate_hz}")

    @property
    def channels(self) -> np.ndarray:
        """(N, C) float32 view of the samples."""
        samples = self.samples if self.samples.ndim == 2 else self.samples[:, None]
        return samples.astype(np.float32, copy=False)

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_channels(self) -> int:
        return 1 if self.samples.ndim == 1 else int(self.samples.shape[1])


@dataclass
class _Output:
    """What exists while a take is being written."""

    temp_path: Path
    container: OutputContainer
    stream: VideoStream
    audio: AudioStreamWriter | None
    reformatter: VideoReformatter = field(default_factory=VideoReformatter)


class TakeWriter:
    """Stream frames into a take at ``path``; see the module docstring for the guarantees.

    ``width`` x ``height`` is the frame size in px; ``fps`` the nominal rate (stored as the
    stream's rate and used by the timecode). ``time_base`` (seconds per tick, default
    ``1 / fps``) is the clock per-frame ``pts_s`` are rounded to: give a VFR source's own time
    base (or ``1/90000``) to keep its timestamps. ``duration_s`` is where the last frame ends
    (default: one ``1 / fps`` after it starts). ``timecode`` (``HH:MM:SS:FF``) is the start
    timecode written to the container.
    """

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        fps: Fraction,
        time_base: Fraction | None = None,
        duration_s: float | None = None,
        timecode: str | None = None,
        audio: TakeAudio | None = None,
        settings: TakeSettings | None = None,
    ) -> None:
        self.path = Path(path)
        self.settings = settings or TakeSettings()
        self.fps = Fraction(fps)
        self.time_base = Fraction(time_base) if time_base is not None else 1 / self.fps
        self.width, self.height = width, height
        self.duration_s = duration_s
        self.timecode = timecode
        self.audio = audio
        self._audio_samples = audio.channels if audio is not None else None
        """(N, C) float32, converted once (``TakeAudio.channels`` may copy)."""
        self._container_kind = self.settings.check_path(self.path)
        self._audio_codec = self.settings.audio_codec_for(self._container_kind)
        self._check_arguments()
        multiple_w, multiple_h = self.settings.video_codec.size_multiple
        self.coded_size = (
            -(-width // multiple_w) * multiple_w,
            -(-height // multiple_h) * multiple_h,
        )
        """(width, height) as encoded, after padding odd sides (see the module docstring)."""
        self._output: _Output | None = None
        self._pending: tuple[av.VideoFrame, int] | None = None
        """The last frame written and its tick, encoded once the next one gives its end."""
        self._num_frames = 0

    @property
    def num_frames(self) -> int:
        """Frames handed to ``write`` so far."""
        return self._num_frames

    @property
    def estimated_bytes(self) -> int:
        """An upper estimate of the finished take's size (what a full disk must make room for)."""
        if self.duration_s is None:
            return MIN_TAKE_BYTES
        num_frames = math.ceil(self.duration_s * self.fps)
        return estimate_take_bytes(self.width, self.height, num_frames, self.settings.codec)

    def __enter__(self) -> TakeWriter:
        temp_path = _create_temp_file(self.path)
        try:
            with _translated_errors(self.path, "start", self.estimated_bytes):
                self._output = self._open(temp_path)
        except BaseException:
            temp_path.unlink(missing_ok=True)
            raise
        return self

    def write(self, frame: np.ndarray, pts_s: float | None = None) -> None:
        """Encode ``frame`` (H, W, 3) uint8 RGB, shown at ``pts_s`` (default: index / fps).

        Times must increase (after rounding to ``time_base``); MediaError otherwise.
        """
        output = self._require_output()
        if frame.dtype != np.uint8 or frame.shape != (self.height, self.width, 3):
            raise ValueError(
                f"frame must be ({self.height}, {self.width}, 3) uint8, "
                f"not {frame.shape} {frame.dtype}"
            )
        tick = self._tick(pts_s)
        video_frame = self._convert(output, frame)
        video_frame.pts = tick
        with _translated_errors(self.path, "write", self.estimated_bytes):
            if self._pending is not None:
                self._encode(output, *self._pending, end_tick=tick)
        self._pending = (video_frame, tick)
        self._num_frames += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        output, self._output = self._require_output(), None
        if exc_type is not None:
            _discard(output)
            return
        try:
            with _translated_errors(self.path, "finish", self.estimated_bytes):
                self._finish(output)
        except BaseException:
            _discard(output)
            raise
        log.debug("wrote take %s: %d frames", self.path, self._num_frames)

    # -- internals ---------------------------------------------------------------------------

    def _check_arguments(self) -> None:
        codec = self.settings.video_codec
        min_w, min_h = codec.min_size
        problems = []
        if self.width < min_w or self.height < min_h:
            problems.append(
                f"{self.settings.codec} needs at least {min_w}x{min_h} px, "
                f"not {self.width}x{self.height}"
            )
        if self.fps <= 0 or self.time_base <= 0:
            problems.append(f"fps {self.fps} and time base {self.time_base} must be positive")
        elif self._container_kind.is_cfr_only and self.time_base != 1 / self.fps:
            problems.append(f"{self._container_kind.format} holds a constant frame rate only")
        if self.duration_s is not None and self.duration_s <= 0:
            problems.append(f"duration {self.duration_s} s must be positive")
        if problems:
            raise MediaError(f"{self.path}: " + "; ".join(problems), code="bad_settings")
        if self.timecode is not None:
            _check_timecode(self.timecode, self.fps)
        rates = self._container_kind.audio_rates_hz
        if self.audio is not None and rates and self.audio.sample_rate_hz not in rates:
            raise MediaError(
                f"{self.path}: {self._container_kind.format} audio must be sampled at "
                f"{' or '.join(map(str, rates))} Hz, not {self.audio.sample_rate_hz} Hz",
                code="bad_settings",
                hint="resample the dialogue, or write the take as .mov",
            )

    def _open(self, temp_path: Path) -> _Output:
        container = av.open(str(temp_path), mode="w", format=self._container_kind.format)
        try:
            stream = self._add_video_stream(container)
            audio = None
            if self.audio is not None:
                audio = AudioStreamWriter(
                    container,
                    self._audio_codec,
                    self.audio.sample_rate_hz,
                    self.audio.num_channels,
                )
        except BaseException:
            container.close()
            raise
        return _Output(temp_path, container, stream, audio)

    def _add_video_stream(self, container: OutputContainer) -> VideoStream:
        codec = self.settings.video_codec
        stream = cast(  # VIDEO_CODECS holds video encoders only
            VideoStream,
            container.add_stream(
                codec.encoder, rate=self.fps, options=self.settings.encoder_options()
            ),
        )
        stream.width, stream.height = self.coded_size
        stream.pix_fmt = codec.pixel_format
        stream.thread_type = "AUTO"
        context = stream.codec_context
        context.time_base = self.time_base
        context.flags |= av.codec.context.Flags.frame_duration  # packets keep frame lengths
        context.colorspace = AVCOL_SPC_BT709
        context.color_primaries = ColorPrimaries.BT709
        context.color_trc = ColorTrc.BT709
        context.color_range = ColorRange.MPEG
        if self.timecode is not None:
            stream.metadata["timecode"] = self.timecode
        return stream

    def _require_output(self) -> _Output:
        if self._output is None:
            raise RuntimeError("use TakeWriter as a context manager: with TakeWriter(...) as w")
        return self._output

    def _tick(self, pts_s: float | None) -> int:
        """``pts_s`` (default index / fps) in ``time_base`` ticks, checked to increase."""
        time_s = self._num_frames / self.fps if pts_s is None else Fraction(float(pts_s))
        tick = round(time_s / self.time_base)
        previous = self._pending[1] if self._pending is not None else None
        if previous is not None and tick <= previous:
            raise MediaError(
                f"{self.path}: frame {self._num_frames} at {float(time_s):.6f} s does not come "
                f"after the previous frame (tick {tick} <= {previous} of {self.time_base} s)",
                code="bad_timestamps",
            )
        if self._container_kind.is_cfr_only and tick != self._num_frames:
            raise MediaError(
                f"{self.path}: frame {self._num_frames} at {float(time_s):.6f} s is off the "
                f"{self.fps} fps grid, and {self._container_kind.format} holds constant rate only",
                code="bad_timestamps",
                hint="write variable-frame-rate takes as .mov",
            )
        return tick

    def _convert(self, output: _Output, frame: np.ndarray) -> av.VideoFrame:
        """RGB uint8 -> the codec's YUV (BT.709, limited range), edge-padded to ``coded_size``."""
        pad_w, pad_h = self.coded_size[0] - self.width, self.coded_size[1] - self.height
        if pad_w or pad_h:
            frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        return output.reformatter.reformat(
            rgb,
            format=self.settings.video_codec.pixel_format,
            dst_colorspace=Colorspace.ITU709,
            dst_color_range=ColorRange.MPEG,
            dst_color_trc=ColorTrc.BT709,
            dst_color_primaries=ColorPrimaries.BT709,
        )

    def _encode(self, output: _Output, frame: av.VideoFrame, tick: int, *, end_tick: int) -> None:
        """Encode ``frame`` (at ``tick``) lasting until ``end_tick``, after the audio up to then."""
        frame.duration = end_tick - tick
        self._feed_audio(output, end_tick * self.time_base)
        output.container.mux(output.stream.encode(frame))

    def _feed_audio(self, output: _Output, until_s: Fraction | None) -> None:
        """Encode the audio up to ``until_s`` (None: all of it)."""
        if output.audio is None or self._audio_samples is None or self.audio is None:
            return
        total = self.audio.num_samples
        stop = (
            total if until_s is None else min(total, math.ceil(until_s * self.audio.sample_rate_hz))
        )
        start = output.audio.samples_written
        if stop > start:
            output.audio.write(self._audio_samples[start:stop])

    def _finish(self, output: _Output) -> None:
        if self._pending is None:
            raise MediaError(f"{self.path}: no frames were written", code="no_frames")
        (frame, tick), self._pending = self._pending, None
        if self.duration_s is None:
            end_tick = tick + max(1, round(1 / self.fps / self.time_base))
        else:
            end_tick = round(Fraction(self.duration_s) / self.time_base)
        if end_tick <= tick:
            raise MediaError(
                f"{self.path}: duration {self.duration_s} s ends before the last frame starts",
                code="bad_timestamps",
            )
        self._encode(output, frame, tick, end_tick=end_tick)
        output.container.mux(output.stream.encode(None))
        self._feed_audio(output, None)
        if output.audio is not None:
            output.audio.close()
            self._warn_if_audio_is_cut(end_tick)
        output.container.close()
        _fsync(output.temp_path)
        os.replace(output.temp_path, self.path)
        _fsync_directory(self.path.parent)

    def _warn_if_audio_is_cut(self, end_tick: int) -> None:
        if self.audio is None or not self._container_kind.is_audio_cut_to_video:
            return
        picture_samples = round(end_tick * self.time_base * self.audio.sample_rate_hz)
        if picture_samples != self.audio.num_samples:
            log.warning(
                "%s: %s fits the audio to the picture: %d samples become %d",
                self.path,
                self._container_kind.format,
                self.audio.num_samples,
                picture_samples,
            )


def _check_timecode(timecode: str, fps: Fraction) -> None:
    match = TIMECODE_PATTERN.match(timecode)
    problem = None
    if match is None:
        problem = "is not HH:MM:SS:FF"
    elif int(match.group(5)) >= math.ceil(fps):
        problem = f"has a frame number beyond {math.ceil(fps) - 1} for {fps} fps"
    elif match.group(4) == ";" and fps not in DROP_FRAME_FPS:
        problem = f"is drop-frame, which only 29.97 and 59.94 fps allow (not {fps})"
    if problem:
        raise MediaError(f"timecode {timecode!r} {problem}", code="bad_timecode")


def _create_temp_file(path: Path) -> Path:
    """Create (exclusively) an empty ``.<stem>.partial-<random><ext>`` beside ``path``."""
    with _translated_errors(path, "create"):
        for _ in range(MAX_TEMP_NAME_TRIES):
            name = f".{path.stem}.partial-{secrets.token_hex(4)}{path.suffix}"
            temp_path = path.with_name(name)
            try:
                os.close(os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            return temp_path
    raise MediaError(f"{path}: could not create a temporary file beside it", code="write_failed")


def remove_partials(path: Path) -> list[Path]:
    """Delete the temporary files that writers of the take ``path`` left when they were killed
    (``.<stem>.partial-<random><ext>`` beside it); call it only when none is writing it."""
    removed = []
    for partial in path.parent.glob(f".{glob.escape(path.stem)}.partial-*{path.suffix}"):
        partial.unlink(missing_ok=True)
        removed.append(partial)
        log.info("removed %s, left by an interrupted write", partial)
    return removed


def _discard(output: _Output) -> None:
    """Close the half-written file, ignoring its own errors, and delete it."""
    try:
        output.container.close()
    except (av.FFmpegError, OSError) as error:
        log.debug("closing discarded take %s failed: %s", output.temp_path, error)
    output.temp_path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _translated_errors(
    path: Path, action: str, needed_bytes: int = MIN_TAKE_BYTES
) -> Iterator[None]:
    """FFmpeg and OS errors while writing ``path`` -> MediaError (``disk_full`` when it is,
    naming the folder and ``needed_bytes``)."""
    try:
        yield
    except (av.FFmpegError, OSError) as error:
        if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
            what = f"the take {path.name} (nothing was written)"
            raise disk_full_error(path.parent, needed_bytes, what) from error
        hint = None
        if isinstance(error, PermissionError):
            hint = "check that the folder is writable and the take is not open in another program"
        raise MediaError(
            f"{path}: could not {action} the take ({error})", code="write_failed", hint=hint
        ) from error

"""Synthetic test media: a seeded cartoon-face clip (and its speech) written with PyAV.

``write_synthetic_video`` streams frames to the encoder one at a time and returns a
``SyntheticClip`` holding the ground truth (frame times, face boxes, mouth openings) in
upright display pixels. ``write_synthetic_audio`` writes the matching speech on its own. The
same seed and duration give the same speech in both, and the speaking face's mouth follows it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.container import OutputContainer
from av.video.stream import VideoStream

from xdub.errors import MediaError
from xdub.media.audio_writer import AudioStreamWriter, write_audio_file
from xdub.media.orientation import display_size, normalize_rotation, to_coded
from xdub.media.synthetic_face import (
    FaceGeometry,
    FaceMotion,
    FacePalette,
    draw_face,
    textured_background,
)
from xdub.media.synthetic_speech import SpeechTrack
from xdub.media.synthetic_timing import VFR_TICKS_PER_S, frame_times_s

VIDEO_CODECS: dict[str, tuple[str, str, dict[str, str]]] = {
    "h264": (
        "libx264",
        "yuv420p",
        {"crf": "16", "preset": "medium", "x264-params": "cpu-independent=1"},
    ),
    "prores": ("prores_ks", "yuv422p10le", {"profile": "3"}),
}
"""Our codec name -> (FFmpeg encoder, pixel format, encoder options); ProRes profile 3 is 422 HQ."""
AUDIO_CHUNK_S = 0.5
"""Audio is rendered and muxed in chunks of this length, interleaved with the video."""
FACE_HALF_HEIGHTS = (0.26, 0.15)
"""Mean head half-height of the speaking face, then of the second face, over the short side."""


@dataclass(frozen=True)
class AudioSpec:
    """How to write the speech: sample rate and channel count."""

    sample_rate_hz: int = 16000
    num_channels: int = 1


@dataclass(frozen=True)
class SyntheticVideoSpec:
    """What to draw and how to encode it. ``width`` x ``height`` is the upright display size."""

    width: int = 160
    height: int = 96
    fps: Fraction = Fraction(25)
    duration_s: float = 1.0
    codec: str = "h264"
    rotation_deg: int = 0
    """Display rotation stored in the file (PyAV convention, see ``orientation``)."""
    is_vfr: bool = False
    num_faces: int = 1
    seed: int = 0
    is_silent: bool = False
    """Silence instead of speech: the mouth stays closed and any audio is zeros."""
    timecode: str | None = None
    """Start timecode such as ``"01:00:00:00"``, written as the container's timecode track."""
    audio: AudioSpec | None = None
    """Speech muxed into the container as AAC, or None for a file without audio."""

    def speech(self) -> SpeechTrack:
        """The speech track that drives the speaker's mouth (and the audio, muxed or not)."""
        if self.is_silent:
            return SpeechTrack.silence(self.duration_s)
        return SpeechTrack.generate(self.duration_s, self.seed)


@dataclass(frozen=True)
class SyntheticClip:
    """Ground truth of a written clip; ``faces[i]`` lists frame i's faces, the speaker first."""

    path: Path
    spec: SyntheticVideoSpec
    coded_size: tuple[int, int]
    """(width, height) as stored, before the display rotation."""
    frame_times_s: tuple[float, ...]
    duration_s: float
    faces: tuple[tuple[FaceGeometry, ...], ...]

    @property
    def num_frames(self) -> int:
        return len(self.frame_times_s)

    def to_json(self) -> dict[str, object]:
        spec = asdict(self.spec)
        spec["fps"] = str(self.spec.fps)
        return {
            "path": str(self.path),
            "spec": spec,
            "coded_size": list(self.coded_size),
            "duration_s": self.duration_s,
            "frames": [
                {"time_s": time_s, "faces": [face.to_json() for face in faces]}
                for time_s, faces in zip(self.frame_times_s, self.faces, strict=True)
            ],
        }

    def save_truth(self, path: Path) -> None:
        """Write ``to_json()`` to ``path`` (for tests of later stages, e.g. the crop track)."""
        path.write_text(json.dumps(self.to_json(), indent=1))


def write_synthetic_video(path: Path, spec: SyntheticVideoSpec) -> SyntheticClip:
    """Draw and encode the clip ``spec`` describes to ``path`` (.mp4 for H.264, .mov for ProRes)."""
    _check_spec(spec)
    rotation = normalize_rotation(spec.rotation_deg)
    times_s, duration_s = frame_times_s(spec.fps, spec.duration_s, spec.seed, is_vfr=spec.is_vfr)
    ends_s = [*times_s[1:], duration_s]
    speech = spec.speech()
    mouth_open = np.clip(speech.envelope_at(np.asarray(times_s)), 0.0, 1.0)
    scene = _Scene.of(spec)
    coded_w, coded_h = display_size(spec.width, spec.height, rotation)
    time_base = Fraction(1, VFR_TICKS_PER_S) if spec.is_vfr else 1 / spec.fps
    faces_per_frame: list[tuple[FaceGeometry, ...]] = []
    try:
        with av.open(str(path), mode="w") as container:
            stream = _add_video_stream(container, spec, time_base)
            stream.width, stream.height = coded_w, coded_h
            if rotation:
                stream.set_display_rotation(rotation)
            audio = _AudioFeed(container, spec.audio, speech) if spec.audio else None
            for time_s, end_s, opening in zip(times_s, ends_s, mouth_open, strict=True):
                if audio:
                    audio.feed_until(time_s)
                image, faces = scene.render(time_s, float(opening))
                frame = av.VideoFrame.from_ndarray(to_coded(image, rotation), format="rgb24")
                frame = frame.reformat(format=stream.pix_fmt)
                frame.time_base = time_base
                frame.pts = round(time_s / time_base)
                frame.duration = round(end_s / time_base) - frame.pts
                container.mux(stream.encode(frame))
                faces_per_frame.append(faces)
            container.mux(stream.encode(None))
            if audio:
                audio.feed_until(duration_s)
                audio.close()
    except av.FFmpegError as error:
        raise MediaError(
            f"could not write synthetic video {path}: {error}", code="write_failed"
        ) from error
    return SyntheticClip(
        path=path,
        spec=spec,
        coded_size=(coded_w, coded_h),
        frame_times_s=tuple(times_s),
        duration_s=duration_s,
        faces=tuple(faces_per_frame),
    )


def write_synthetic_audio(path: Path, speech: SpeechTrack, spec: AudioSpec) -> None:
    """Write ``speech`` to ``path`` (.wav 16-bit PCM or .m4a AAC), streamed in chunks."""
    try:
        write_audio_file(path, _speech_chunks(speech, spec), spec.sample_rate_hz, spec.num_channels)
    except av.FFmpegError as error:
        raise MediaError(
            f"could not write synthetic audio {path}: {error}", code="write_failed"
        ) from error


def _check_spec(spec: SyntheticVideoSpec) -> None:
    problems = []
    if spec.codec not in VIDEO_CODECS:
        problems.append(f"codec {spec.codec!r} is not one of {', '.join(VIDEO_CODECS)}")
    if spec.width < 16 or spec.height < 16 or spec.width % 2 or spec.height % 2:
        problems.append(f"size {spec.width}x{spec.height} must be even and at least 16x16")
    if spec.duration_s <= 0 or spec.fps <= 0:
        problems.append("duration and fps must be positive")
    if spec.num_faces not in (1, 2):
        problems.append(f"num_faces must be 1 or 2, not {spec.num_faces}")
    if problems:
        raise MediaError("bad synthetic video spec: " + "; ".join(problems), code="bad_spec")


@dataclass(frozen=True)
class _Scene:
    """The backdrop and the cast (speaker first) of one clip, in upright display pixels."""

    background: np.ndarray
    motions: tuple[FaceMotion, ...]
    palettes: tuple[FacePalette, ...]

    @classmethod
    def of(cls, spec: SyntheticVideoSpec) -> _Scene:
        w, h = float(spec.width), float(spec.height)
        if spec.num_faces == 1:
            regions = [(0.0, 0.0, w, h)]
        elif w >= h:  # side by side along the long axis
            regions = [(0.0, 0.0, 0.62 * w, h), (0.62 * w, 0.0, w, h)]
        else:
            regions = [(0.0, 0.0, w, 0.62 * h), (0.0, 0.62 * h, w, h)]
        seeds = [spec.seed * 7 + rank for rank in range(spec.num_faces)]
        motions = tuple(
            FaceMotion.seeded(region, FACE_HALF_HEIGHTS[rank] * min(w, h), seed=seeds[rank])
            for rank, region in enumerate(regions)
        )
        palettes = tuple(FacePalette.seeded(seed) for seed in seeds)
        return cls(textured_background(spec.height, spec.width, spec.seed), motions, palettes)

    def render(
        self, time_s: float, mouth_open: float
    ) -> tuple[np.ndarray, tuple[FaceGeometry, ...]]:
        """The upright (H, W, 3) uint8 RGB picture at ``time_s`` and its faces; only the
        speaker's mouth opens (by ``mouth_open``, 0..1)."""
        faces = tuple(
            motion.at(time_s, mouth_open if rank == 0 else 0.0)
            for rank, motion in enumerate(self.motions)
        )
        image = self.background.copy()
        for face, palette in zip(reversed(faces), reversed(self.palettes), strict=True):
            draw_face(image, face, palette)
        return image, faces


def _add_video_stream(
    container: OutputContainer, spec: SyntheticVideoSpec, time_base: Fraction
) -> VideoStream:
    encoder, pixel_format, options = VIDEO_CODECS[spec.codec]
    try:
        stream = cast(VideoStream, container.add_stream(encoder, rate=spec.fps, options=options))
    except ValueError as error:  # PyAV: this container format cannot hold this codec
        raise MediaError(
            f"cannot write {spec.codec} into {container.name}: {error}",
            code="bad_spec",
            hint="use .mp4 or .mov for H.264 and .mov for ProRes",
        ) from error
    stream.pix_fmt = pixel_format
    stream.codec_context.time_base = time_base
    # Pass each frame's duration to its packet, so the container keeps the last frame's length.
    stream.codec_context.flags |= av.codec.context.Flags.frame_duration
    if spec.timecode:
        stream.metadata["timecode"] = spec.timecode
    return stream


def _speech_chunks(speech: SpeechTrack, spec: AudioSpec) -> Iterator[np.ndarray]:
    """The speech as (N, C) float32 chunks of ``AUDIO_CHUNK_S``."""
    total = speech.num_samples(spec.sample_rate_hz)
    step = max(1, round(AUDIO_CHUNK_S * spec.sample_rate_hz))
    for start in range(0, total, step):
        yield speech.render_channels(
            spec.sample_rate_hz, spec.num_channels, start, min(step, total - start)
        )


class _AudioFeed:
    """Renders speech into a muxed AAC stream just ahead of the video, chunk by chunk."""

    def __init__(self, container: OutputContainer, spec: AudioSpec, speech: SpeechTrack) -> None:
        self._writer = AudioStreamWriter(container, "aac", spec.sample_rate_hz, spec.num_channels)
        self._chunks = _speech_chunks(speech, spec)
        self._sample_rate_hz = spec.sample_rate_hz

    def feed_until(self, time_s: float) -> None:
        """Encode chunks until the audio written reaches ``time_s`` (or the speech ends)."""
        while self._writer.samples_written < math.ceil(time_s * self._sample_rate_hz):
            chunk = next(self._chunks, None)
            if chunk is None:
                return
            self._writer.write(chunk)

    def close(self) -> None:
        self._writer.close()

"""The take's codecs and containers: what an editor asks for, mapped onto FFmpeg encoders.

``TakeSettings`` is the per-job choice (codec and H.264 quality); ``VIDEO_CODECS`` and
``CONTAINERS`` say which encoder, pixel format and audio codecs each choice implies, and
``TakeSettings.check_path`` refuses an output name whose extension cannot hold them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xdub.errors import MediaError
from xdub.protocol.records import MAX_CRF


@dataclass(frozen=True)
class VideoCodec:
    """One take codec: FFmpeg encoder, pixel format, fixed options and allowed containers."""

    encoder: str
    pixel_format: str
    options: tuple[tuple[str, str], ...]
    suffixes: tuple[str, ...]
    """Output extensions that may hold it; the first is the default."""
    size_multiple: tuple[int, int] = (2, 1)
    """(width, height) must be multiples of these: chroma subsampling needs even sides
    (4:2:2 halves the width, 4:2:0 both), so odd frames are padded to them."""
    min_size: tuple[int, int] = (1, 1)
    """Smallest (width, height) in px the encoder accepts."""


X264_DETERMINISTIC = ("x264-params", "cpu-independent=1")
"""x264's AVX-512 MB-tree kernels read uninitialised memory, so the same frames could encode
differently from run to run; ``cpu-independent`` uses its portable MB-tree code instead."""

VIDEO_CODECS: dict[str, VideoCodec] = {
    "h264": VideoCodec(
        "libx264", "yuv420p", (X264_DETERMINISTIC,), (".mp4", ".mov"), size_multiple=(2, 2)
    ),
    "prores_hq": VideoCodec("prores_ks", "yuv422p10le", (("profile", "3"),), (".mov",)),
    "dnxhr_hq": VideoCodec(
        "dnxhd", "yuv422p", (("profile", "dnxhr_hq"),), (".mov", ".mxf"), min_size=(256, 120)
    ),
}
"""Our codec name -> encoder. ProRes profile 3 is 422 HQ (10 bit); DNxHR HQ is 8-bit 4:2:2."""


@dataclass(frozen=True)
class Container:
    """An output file type: FFmpeg muxer and the audio it may carry (first = default)."""

    format: str
    audio_codecs: tuple[str, ...]
    audio_rates_hz: tuple[int, ...] | None = None
    """Sample rates the muxer accepts; None for any."""
    is_cfr_only: bool = False
    """True when the container has one edit rate, so per-frame timestamps cannot be kept."""
    is_audio_cut_to_video: bool = False
    """True when the muxer cuts or pads the audio to the picture's length (MXF stores one
    edit unit of sound per video frame); elsewhere the audio keeps exactly its samples."""


CONTAINERS: dict[str, Container] = {
    ".mp4": Container("mp4", ("aac",)),
    ".mov": Container("mov", ("pcm_s24le", "pcm_s16le", "aac")),
    ".mxf": Container(
        "mxf",
        ("pcm_s24le", "pcm_s16le"),
        audio_rates_hz=(48000,),
        is_cfr_only=True,
        is_audio_cut_to_video=True,
    ),
}
"""Extension -> container. Editors expect uncompressed PCM beside ProRes/DNxHR, AAC in MP4."""

X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


@dataclass(frozen=True)
class TakeSettings:
    """How the dubbed take is encoded; chosen per job.

    ``codec`` is ``"h264"`` (MP4, quality by ``crf``/``preset``), ``"prores_hq"`` (ProRes 422 HQ,
    MOV) or ``"dnxhr_hq"`` (DNxHR HQ, MOV or MXF). ``audio_codec`` None picks the container's
    default: AAC in MP4, 24-bit PCM in MOV and MXF.
    """

    codec: str = "h264"
    crf: int = 16
    """H.264 constant rate factor: 0 lossless .. 51 worst; 16 is visually transparent."""
    preset: str = "medium"
    """x264 speed/size trade-off; slower presets give smaller files at the same quality."""
    audio_codec: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.codec not in VIDEO_CODECS:
            problems.append(f"codec {self.codec!r} is not one of {', '.join(VIDEO_CODECS)}")
        if not 0 <= self.crf <= MAX_CRF:
            problems.append(f"crf {self.crf} is outside 0..{MAX_CRF}")
        if self.preset not in X264_PRESETS:
            problems.append(f"preset {self.preset!r} is not one of {', '.join(X264_PRESETS)}")
        if problems:
            raise MediaError("bad take settings: " + "; ".join(problems), code="bad_settings")

    @property
    def video_codec(self) -> VideoCodec:
        return VIDEO_CODECS[self.codec]

    @property
    def default_suffix(self) -> str:
        """The extension to give a take in this codec, e.g. ``".mov"`` for ProRes."""
        return self.video_codec.suffixes[0]

    def encoder_options(self) -> dict[str, str]:
        """FFmpeg encoder options: the codec's fixed ones, plus crf and preset for H.264."""
        options = dict(self.video_codec.options)
        if self.codec == "h264":
            options.update(crf=str(self.crf), preset=self.preset)
        return options

    def check_path(self, path: Path) -> Container:
        """The container for ``path``'s extension; MediaError if it cannot hold this take."""
        suffix = path.suffix.lower()
        allowed = self.video_codec.suffixes
        if suffix not in allowed:
            raise MediaError(
                f"{path}: a {self.codec} take cannot be written as {suffix or 'no extension'!r}",
                code="bad_output_path",
                hint=f"name the output with {' or '.join(allowed)}",
            )
        return CONTAINERS[suffix]

    def audio_codec_for(self, container: Container) -> str:
        """The audio codec for ``container``; MediaError if it cannot carry the chosen one."""
        if self.audio_codec is None:
            return container.audio_codecs[0]
        if self.audio_codec not in container.audio_codecs:
            raise MediaError(
                f"{container.format} cannot carry {self.audio_codec} audio",
                code="bad_settings",
                hint=f"use one of {', '.join(container.audio_codecs)}",
            )
        return self.audio_codec

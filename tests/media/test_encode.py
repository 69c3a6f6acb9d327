"""The take writer: real files in every codec, read back with xdub's probe and plain PyAV."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.reformatter import Interpolation

from xdub.errors import JobCancelled, MediaError
from xdub.media import encode
from xdub.media.codecs import TakeSettings
from xdub.media.decode import iter_frames
from xdub.media.encode import TakeAudio, TakeWriter
from xdub.media.probe import probe
from xdub.media.synthetic import SyntheticClip
from xdub.media.synthetic_speech import SpeechTrack
from xdub.media.timestamps import frame_times

ACCURATE_YUV_TO_RGB = (
    Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
)
"""swscale's default YUV->RGB path is biased by 1-2 levels (measured -1.7 on 4:2:2 10-bit);
reading back with exact rounding makes the pixel checks measure the codec, not the reader."""

CODEC_CASES = [
    # codec, output name, size (DNxHR needs at least 256x120, so all use that size class)
    ("h264", "take.mp4", (256, 144)),
    ("prores_hq", "take.mov", (256, 144)),
    ("dnxhr_hq", "take.mov", (256, 144)),
    ("dnxhr_hq", "take.mxf", (256, 144)),
]
PIXEL_MEAN_ABS_TOLERANCE = {
    # Mean |error| per frame on the synthetic clip, whose background is a fine noisy texture.
    # YUV conversion alone costs 0.35 (4:2:2 10-bit) to 0.95 (4:2:0) of that (measured), the
    # codec the rest; the limits leave ~50 % over the measured worst frame:
    "h264": 2.5,  # crf 16 x264: measured 1.62
    "prores_hq": 2.0,  # measured 1.35
    "dnxhr_hq": 4.5,  # 8-bit DNxHR HQ quantises fine texture harder: measured 3.10
}
EXPECTED_PROFILE = {"h264": "High", "prores_hq": "HQ", "dnxhr_hq": "DNXHR HQ"}
FLAT_PATCH_MAX_ERROR = 3
"""Inside flat colour patches only 8-bit rounding remains (measured <= 2 levels); decoding with
the wrong matrix (BT.601) or range (full) is off by 9-27 levels on saturated colours."""
AAC_MIN_SNR_DB = 30.0
"""AAC at 128 kb/s is lossy: measured 45-49 dB SNR on the synthetic speech. The same speech one
sample late measures 19 dB, with swapped channels 13 dB, 1024 samples late (AAC priming) -2."""
PCM_LSB = {"pcm_s16le": 2.0**-15, "pcm_s24le": 2.0**-23}
"""PCM stores samples exactly up to one step of its integer format (rounding or truncation)."""


def source_frames(clip: SyntheticClip) -> list[np.ndarray]:
    """The synthetic clip's pictures as the pipeline sees them: upright RGB, decoded by xdub."""
    return [frame.rgb for frame in iter_frames(clip.path)]


def read_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [
            frame.to_ndarray(format="rgb24", interpolation=ACCURATE_YUV_TO_RGB)
            for frame in container.decode(video=0)
        ]


def read_audio(path: Path) -> tuple[np.ndarray, int, str]:
    """(decoded samples (N, C) float32, stream length in samples from its packets, codec)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        layout = stream.codec_context.layout
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=stream.sample_rate)
        planes = [
            converted.to_ndarray()
            for frame in container.decode(stream)
            for converted in resampler.resample(frame)
        ]
        container.seek(0)
        ends = [p.pts + p.duration for p in container.demux(stream) if p.pts is not None]
        codec = stream.codec_context.name
    return np.concatenate(planes, axis=1).T, max(ends), codec


def speech(duration_s: float, sample_rate_hz: int, num_channels: int, seed: int) -> TakeAudio:
    track = SpeechTrack.generate(duration_s, seed)
    samples = track.render_channels(
        sample_rate_hz, num_channels, 0, track.num_samples(sample_rate_hz)
    )
    return TakeAudio(samples, sample_rate_hz)


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    return float(10 * np.log10((reference**2).sum() / ((test - reference) ** 2).sum()))


def listing(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


@pytest.mark.parametrize(("codec", "name", "size"), CODEC_CASES)
def test_each_codec_writes_a_take_that_reads_back(
    tmp_path: Path, make_clip: Callable[..., SyntheticClip], codec: str, name: str, size: tuple
):
    width, height = size
    fps = Fraction(25)
    clip = make_clip(width=width, height=height, fps=fps, duration_s=0.8, seed=7)
    frames = source_frames(clip)
    audio = speech(clip.duration_s + 0.13, 48000, 2, seed=7)  # any length: not tied to video
    settings = TakeSettings(codec=codec)
    out = tmp_path / "out" / name
    out.parent.mkdir()
    with TakeWriter(
        out,
        width=width,
        height=height,
        fps=fps,
        timecode="01:00:10:05",
        audio=audio,
        settings=settings,
    ) as writer:
        for frame in frames:
            writer.write(frame)

    info = probe(out)
    expected_codec = {"h264": "h264", "prores_hq": "prores", "dnxhr_hq": "dnxhd"}[codec]
    assert (info.video_codec, info.pixel_format) == (
        expected_codec,
        settings.video_codec.pixel_format,
    )
    assert (info.width, info.height, info.fps) == (width, height, fps)
    assert info.num_frames == len(frames) and not info.is_vfr
    assert info.duration_s == pytest.approx(len(frames) / fps, abs=1e-9)
    assert info.timecode == "01:00:10:05"
    with av.open(str(out)) as container:
        context = container.streams.video[0].codec_context
        assert context.profile == EXPECTED_PROFILE[codec]

    decoded = read_rgb(out)
    assert len(decoded) == len(frames)
    errors = [
        np.abs(got.astype(np.int16) - want).mean()
        for got, want in zip(decoded, frames, strict=True)
    ]
    assert max(errors) < PIXEL_MEAN_ABS_TOLERANCE[codec]

    samples, length, audio_codec = read_audio(out)
    assert audio_codec == {".mp4": "aac", ".mov": "pcm_s24le", ".mxf": "pcm_s24le"}[out.suffix]
    assert (info.audio_sample_rate_hz, info.audio_num_channels) == (48000, 2)
    if settings.check_path(
        out
    ).is_audio_cut_to_video:  # MXF: one edit unit of sound per video frame
        expected_length = round(info.duration_s * 48000)
    else:
        expected_length = audio.num_samples
    assert length == expected_length  # the packets end exactly there
    keep = min(expected_length, audio.num_samples)
    got, want = samples[:keep], audio.channels[:keep]
    if audio_codec == "aac":
        assert got.shape == want.shape
        assert snr_db(want, got) > AAC_MIN_SNR_DB
    else:
        assert samples.shape == (expected_length, 2)
        np.testing.assert_allclose(got, want, rtol=0, atol=PCM_LSB[audio_codec])
    assert listing(out.parent) == [name]


@pytest.mark.parametrize(("codec", "name"), [case[:2] for case in CODEC_CASES])
def test_flat_colours_come_back_exactly_tagged_bt709(tmp_path: Path, codec: str, name: str):
    colours = [(220, 40, 40), (40, 200, 60), (30, 50, 210), (235, 235, 235), (16, 16, 16)]
    width, height = TakeSettings(codec).video_codec.min_size if codec == "dnxhr_hq" else (160, 32)
    patch_w = width // len(colours)
    picture = np.repeat(np.array(colours, np.uint8), patch_w, axis=0)[None].repeat(height, 0)
    picture = np.pad(picture, ((0, 0), (0, width - picture.shape[1]), (0, 0)), mode="edge")
    out = tmp_path / name
    with TakeWriter(
        out, width=width, height=height, fps=Fraction(25), settings=TakeSettings(codec)
    ) as writer:
        writer.write(picture)
    with av.open(str(out)) as container:
        context = container.streams.video[0].codec_context
        assert (context.colorspace, context.color_primaries, context.color_trc) == (1, 1, 1)
        assert context.color_range == 1  # limited ("TV") range
    (decoded,) = read_rgb(out)
    margin = 8  # chroma and DCT blocks blur across patch borders
    for index, colour in enumerate(colours):
        inside = decoded[margin:-margin, index * patch_w + margin : (index + 1) * patch_w - margin]
        assert np.abs(inside.astype(np.int16) - colour).max() <= FLAT_PATCH_MAX_ERROR, colour


@pytest.mark.parametrize("audio_codec", ["pcm_s16le", "aac"])
def test_mono_audio_in_a_mov(tmp_path: Path, audio_codec: str):
    audio = speech(0.5, 16000, 1, seed=3)
    mono = TakeAudio(audio.channels[:, 0], audio.sample_rate_hz)
    out = tmp_path / "mono.mov"
    settings = TakeSettings(codec="prores_hq", audio_codec=audio_codec)
    with TakeWriter(out, width=32, height=16, fps=Fraction(24), audio=mono, settings=settings) as w:
        for _ in range(12):
            w.write(np.full((16, 32, 3), 128, np.uint8))
    samples, length, codec = read_audio(out)
    assert (codec, samples.shape[1], length) == (audio_codec, 1, mono.num_samples)
    if codec == "aac":
        assert snr_db(audio.channels, samples[: mono.num_samples]) > AAC_MIN_SNR_DB
    else:
        np.testing.assert_allclose(samples, audio.channels, rtol=0, atol=PCM_LSB[codec])


@pytest.mark.parametrize(
    ("codec", "size", "coded"),
    [("h264", (63, 47), (64, 48)), ("prores_hq", (63, 47), (64, 47))],
)
def test_odd_sizes_are_padded_by_repeating_the_edge(
    tmp_path: Path, codec: str, size: tuple[int, int], coded: tuple[int, int]
):
    width, height = size
    rows, columns = np.mgrid[0:height, 0:width]
    picture = np.stack([columns * 3, rows * 4, np.full_like(rows, 128)], axis=-1).astype(np.uint8)
    band = 6  # saturated bands along the right and bottom edges, so the padding shows:
    picture[:, -band:] = (250, 20, 20)  # repeated, the edge keeps its colour through chroma
    picture[-band:, :] = (20, 20, 250)  # subsampling; black padding would halve it
    out = tmp_path / f"odd{TakeSettings(codec=codec).default_suffix}"
    with TakeWriter(
        out, width=width, height=height, fps=Fraction(25), settings=TakeSettings(codec=codec)
    ) as writer:
        writer.write(picture)
        assert writer.coded_size == coded
    info = probe(out)
    assert (info.width, info.height) == coded
    (decoded,) = read_rgb(out)
    gradient = (slice(0, height - band - 2), slice(0, width - band - 2))  # off the colour edges
    error = decoded[gradient].astype(np.int16) - picture[gradient]
    assert np.abs(error).mean() < PIXEL_MEAN_ABS_TOLERANCE[codec]
    # The last real column/row and the added one keep the band's colour. Saturated edges cost
    # x264 up to 9 levels (measured); padding with black instead measured 68-90 levels off.
    last_columns = decoded[: height - band - 2, width - 1 :].astype(np.int16)
    assert np.abs(last_columns - (250, 20, 20)).max() <= 20
    last_rows = decoded[height - 1 :, : width - band - 2].astype(np.int16)
    assert np.abs(last_rows - (20, 20, 250)).max() <= 20


@pytest.mark.parametrize(("codec", "name"), [("h264", "vfr.mp4"), ("prores_hq", "vfr.mov")])
def test_vfr_timestamps_and_duration_survive(
    tmp_path: Path, make_clip: Callable[..., SyntheticClip], codec: str, name: str
):
    clip = make_clip(fps=Fraction(30), duration_s=1.2, is_vfr=True, seed=5)
    source = probe(clip.path)
    assert source.is_vfr
    source_times = frame_times(clip.path)
    out = tmp_path / name
    with TakeWriter(
        out,
        width=source.width,
        height=source.height,
        fps=source.fps,
        time_base=source_times.time_base,
        duration_s=source.duration_s,
        settings=TakeSettings(codec=codec),
    ) as writer:
        for frame in iter_frames(clip.path):
            writer.write(frame.rgb, frame.time_s)
    times = frame_times(out)
    assert times.time_base == source_times.time_base
    np.testing.assert_array_equal(
        times.ticks - times.ticks[0], source_times.ticks - source_times.ticks[0]
    )
    assert times.last_duration_ticks == source_times.last_duration_ticks
    assert probe(out).duration_s == pytest.approx(source.duration_s, abs=1e-9)


@pytest.mark.parametrize(
    ("name", "fps", "timecode"),
    [
        ("tc.mp4", Fraction(25), "10:00:00:00"),
        ("tc.mov", Fraction(30000, 1001), "00:59:59;29"),
        ("tc.mxf", Fraction(24000, 1001), "01:00:00:23"),
    ],
)
def test_source_timecode_is_kept(tmp_path: Path, name: str, fps: Fraction, timecode: str):
    codec = "dnxhr_hq" if name.endswith(".mxf") else "h264"
    width, height = (
        TakeSettings(codec=codec).video_codec.min_size if codec == "dnxhr_hq" else (32, 16)
    )
    out = tmp_path / name
    with TakeWriter(
        out,
        width=width,
        height=height,
        fps=fps,
        timecode=timecode,
        settings=TakeSettings(codec=codec),
    ) as writer:
        for _ in range(3):
            writer.write(np.zeros((height, width, 3), np.uint8))
    assert probe(out).timecode == timecode


def test_audio_is_interleaved_with_the_video(tmp_path: Path):
    """Beyond FFmpeg's 10 s interleaving window, audio written last would sit at the end."""
    duration_s = 12
    audio = TakeAudio(np.full(8000 * duration_s, 0.1, np.float32), 8000)
    out = tmp_path / "long.mov"
    settings = TakeSettings(codec="prores_hq", audio_codec="pcm_s16le")
    with TakeWriter(
        out, width=32, height=16, fps=Fraction(25), audio=audio, settings=settings
    ) as w:
        for index in range(25 * duration_s):
            w.write(np.full((16, 32, 3), index % 256, np.uint8))
    with av.open(str(out)) as container:
        packets = sorted(
            (packet.pos, float(packet.dts * packet.time_base))
            for packet in container.demux()
            if packet.size and packet.stream.type in ("audio", "video")
        )
    times = np.array([time_s for _, time_s in packets])
    assert (np.maximum.accumulate(times) - times).max() < 0.5  # file order follows time


@pytest.mark.parametrize("error", [RuntimeError("paste failed"), JobCancelled()])
def test_an_error_inside_the_block_leaves_no_file_and_keeps_the_old_take(
    tmp_path: Path, error: BaseException
):
    out = tmp_path / "take.mp4"
    out.write_bytes(b"the previous take")
    with pytest.raises(type(error)):
        with TakeWriter(out, width=32, height=16, fps=Fraction(25)) as writer:
            for _ in range(5):
                writer.write(np.zeros((16, 32, 3), np.uint8))
            assert any(name.startswith(".take.partial-") for name in listing(tmp_path))
            raise error
    assert listing(tmp_path) == ["take.mp4"]
    assert out.read_bytes() == b"the previous take"


def test_a_finished_take_replaces_the_old_one_with_ordinary_permissions(tmp_path: Path):
    out = tmp_path / "take.mov"
    out.write_bytes(b"the previous take")
    with TakeWriter(
        out, width=32, height=16, fps=Fraction(25), settings=TakeSettings("prores_hq")
    ) as w:
        w.write(np.zeros((16, 32, 3), np.uint8))
    assert listing(tmp_path) == ["take.mov"] and probe(out).num_frames == 1
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_timestamps_that_do_not_increase_are_refused(tmp_path: Path):
    out = tmp_path / "take.mp4"
    with pytest.raises(MediaError) as caught:
        with TakeWriter(out, width=32, height=16, fps=Fraction(25)) as writer:
            writer.write(np.zeros((16, 32, 3), np.uint8), 0.0)
            writer.write(np.zeros((16, 32, 3), np.uint8), 0.01)  # rounds onto frame 0's tick
    assert caught.value.code == "bad_timestamps"
    assert listing(tmp_path) == []


def test_a_take_without_frames_is_refused_and_leaves_nothing(tmp_path: Path):
    with pytest.raises(MediaError) as caught:
        with TakeWriter(tmp_path / "take.mp4", width=32, height=16, fps=Fraction(25)):
            pass
    assert caught.value.code == "no_frames"
    assert listing(tmp_path) == []


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 256 KiB tmpfs at ``tmp_path / "disk"`` (needs root), unmounted afterwards."""
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_is_a_clear_error_and_loses_nothing(tiny_disk: Path):
    out = tiny_disk / "take.mov"
    previous = os.urandom(64 * 1024)
    out.write_bytes(previous)
    rng = np.random.default_rng(1)
    with pytest.raises(MediaError) as caught:  # noise in ProRes HQ: ~70 KB a frame
        with TakeWriter(
            out, width=256, height=144, fps=Fraction(25), settings=TakeSettings("prores_hq")
        ) as w:
            for _ in range(20):
                w.write(rng.integers(0, 256, (144, 256, 3), dtype=np.uint8))
    assert caught.value.code == "disk_full" and caught.value.hint
    assert listing(tiny_disk) == ["take.mov"]
    assert out.read_bytes() == previous


def test_disk_full_when_syncing_is_reported_and_cleaned_up(tmp_path: Path, monkeypatch):
    """Network and delayed-allocation file systems report ENOSPC as late as fsync."""

    def full_disk(path: Path) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(encode, "_fsync", full_disk)
    out = tmp_path / "take.mp4"
    with pytest.raises(MediaError) as caught:
        with TakeWriter(out, width=32, height=16, fps=Fraction(25)) as writer:
            writer.write(np.zeros((16, 32, 3), np.uint8))
    assert caught.value.code == "disk_full"
    assert listing(tmp_path) == []


def test_frames_are_streamed_not_kept(tmp_path: Path):
    """120 frames of 640x360 must not grow memory by their size (41 MB even as YUV 4:2:0)."""
    statm = Path("/proc/self/statm")
    if not statm.exists():
        pytest.skip("needs Linux /proc to read the resident set size")

    def resident_bytes() -> int:
        return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    rows, columns = np.mgrid[0:360, 0:640]
    pictures = [
        np.stack([(columns + 7 * k) % 256, (rows + 3 * k) % 256, rows * 0 + 100], axis=-1)
        for k in range(4)
    ]
    pictures = [picture.astype(np.uint8) for picture in pictures]
    out = tmp_path / "long.mp4"
    settings = TakeSettings(preset="ultrafast")  # no look-ahead queue, and fast
    with TakeWriter(out, width=640, height=360, fps=Fraction(25), settings=settings) as writer:
        for index in range(10):  # let the encoder allocate its own buffers first
            writer.write(pictures[index % 4])
        before = resident_bytes()
        for index in range(120):
            writer.write(pictures[index % 4])
        growth = resident_bytes() - before
    assert growth < 20 * 2**20  # measured 0 MB; keeping the frames measured 61 MB


@pytest.mark.parametrize(
    ("name", "kwargs", "code"),
    [
        ("take.avi", {}, "bad_output_path"),
        ("take.mkv", {"settings": TakeSettings("prores_hq")}, "bad_output_path"),
        ("take.mp4", {"settings": TakeSettings("prores_hq")}, "bad_output_path"),
        ("take.mp4", {"settings": TakeSettings("dnxhr_hq")}, "bad_output_path"),
        ("take.mov", {"settings": TakeSettings("dnxhr_hq")}, "bad_settings"),  # 32x16 too small
        ("take.mp4", {"timecode": "1:00:00:00"}, "bad_timecode"),
        ("take.mp4", {"timecode": "01:00:00:25"}, "bad_timecode"),  # frame 25 at 25 fps
        ("take.mp4", {"timecode": "01:00:00;00"}, "bad_timecode"),  # drop-frame at 25 fps
        ("take.mp4", {"settings": TakeSettings(audio_codec="pcm_s16le")}, "bad_settings"),
        ("take.mp4", {"time_base": Fraction(-1, 90000)}, "bad_settings"),
    ],
)
def test_impossible_takes_are_refused_before_anything_is_written(
    tmp_path: Path, name: str, kwargs: dict, code: str
):
    with pytest.raises(MediaError) as caught:
        TakeWriter(tmp_path / name, width=32, height=16, fps=Fraction(25), **kwargs)
    assert caught.value.code == code
    assert listing(tmp_path) == []


def test_mxf_refuses_variable_rates_and_non_48k_audio(tmp_path: Path):
    dnxhr = TakeSettings("dnxhr_hq")
    with pytest.raises(MediaError, match="constant frame rate"):
        TakeWriter(
            tmp_path / "t.mxf",
            width=256,
            height=120,
            fps=Fraction(25),
            time_base=Fraction(1, 90000),
            settings=dnxhr,
        )
    with pytest.raises(MediaError, match="48000 Hz"):
        TakeWriter(
            tmp_path / "t.mxf",
            width=256,
            height=120,
            fps=Fraction(25),
            audio=speech(0.2, 44100, 2, seed=0),
            settings=dnxhr,
        )
    with pytest.raises(MediaError) as caught:
        with TakeWriter(
            tmp_path / "t.mxf", width=256, height=120, fps=Fraction(25), settings=dnxhr
        ) as w:
            w.write(np.zeros((120, 256, 3), np.uint8), 0.0)
            w.write(np.zeros((120, 256, 3), np.uint8), 0.1)  # skips frames 1 and 2
    assert caught.value.code == "bad_timestamps"
    assert listing(tmp_path) == []


@pytest.mark.parametrize("fields", [{"codec": "vp9"}, {"crf": 52}, {"preset": "ludicrous"}])
def test_bad_settings_are_media_errors(fields: dict):
    with pytest.raises(MediaError) as caught:
        TakeSettings(**fields)
    assert caught.value.code == "bad_settings"


def test_remove_partials_deletes_only_the_leftovers_of_that_take(tmp_path: Path) -> None:
    from xdub.media.encode import remove_partials

    take = tmp_path / "shot [1].mp4"  # glob characters in the name are literal
    leftovers = [tmp_path / ".shot [1].partial-0a1b2c3d.mp4", tmp_path / ".shot [1].partial-x.mp4"]
    kept = [tmp_path / ".shot 1.partial-0a1b2c3d.mp4", tmp_path / ".shot [1].partial-0a.mov", take]
    for path in [*leftovers, *kept]:
        path.write_bytes(b"x")
    assert sorted(remove_partials(take)) == sorted(leftovers)
    assert all(path.exists() for path in kept) and not any(p.exists() for p in leftovers)

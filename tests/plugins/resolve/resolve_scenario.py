"""A project for the fake Resolve: generated media, a timeline with a clip and its new dialogue."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from fake_resolve import (
    FakeApp,
    FakeResolve,
    FakeTimeline,
    FakeTimelineItem,
    make_resolve,
)

SOURCE_FPS = Fraction(25)
SOURCE_TC = "01:00:00:00"
SOURCE_DURATION_S = 1.0
DIALOGUE_DURATION_S = 1.2
TIMELINE_START = 90000  # 01:00:00:00 at 25 fps
RECORD_START = TIMELINE_START + 50
LEFT_OFFSET = 5
DURATION = 15  # record frames of the dubbed item: 0.6 s
DIALOGUE_LEAD = 5  # the dialogue starts 5 frames before the clip (its head is trimmed)
WHOLE_FILE_FRAMES = round(SOURCE_DURATION_S * SOURCE_FPS)


@dataclass(frozen=True)
class Media:
    video: Path
    dialogue: Path


def make_media(folder: Path) -> Media:
    """A 1 s 25 fps clip with a face and start TC 01:00:00:00, and 1.2 s of new dialogue."""
    from xdub.media.synthetic import (
        AudioSpec,
        SpeechTrack,
        SyntheticVideoSpec,
        write_synthetic_audio,
        write_synthetic_video,
    )

    spec = SyntheticVideoSpec(
        width=96,
        height=96,
        fps=SOURCE_FPS,
        duration_s=SOURCE_DURATION_S,
        seed=2,
        timecode=SOURCE_TC,
    )
    video, dialogue = folder / "A001_C002.mp4", folder / "dub_take3.wav"
    write_synthetic_video(video, spec)
    write_synthetic_audio(dialogue, SpeechTrack.generate(DIALOGUE_DURATION_S, seed=5), AudioSpec())
    return Media(video, dialogue)


def resolve_fps_text(fps: Fraction) -> str:
    """A rate as ``GetClipProperty('FPS')`` writes it: ``"25"``, ``"23.976"``, ``"29.97"``."""
    return f"{float(fps):.3f}".rstrip("0").rstrip(".")


def probe_props(path: str) -> dict[str, str]:
    """What Resolve's media pool shows for a file (all strings), read with xdub's probe."""
    from xdub.media.probe import probe

    info = probe(Path(path))
    return {
        "File Path": path,
        "Clip Name": Path(path).name,
        "Type": "Video + Audio" if info.has_audio else "Video",
        "FPS": resolve_fps_text(info.fps),
        "Frames": str(info.num_frames),
        "Start TC": info.timecode or "00:00:00:00",
        "Resolution": f"{info.display_width}x{info.display_height}",
        "Sample Rate": str(info.audio_sample_rate_hz or ""),
    }


@dataclass
class Project:
    app: FakeApp
    resolve: FakeResolve
    timeline: FakeTimeline
    item: FakeTimelineItem
    dialogue: FakeTimelineItem


def make_project(
    media: Media,
    product: str,
    version: tuple[int, int, int],
    *,
    speed: Fraction = Fraction(1),
    video_type: str | None = None,
    dialogue_track_name: str = "Dub",
    left_offset: int = LEFT_OFFSET,
    duration: int = DURATION,
    item_name: str = "",
) -> Project:
    """V1 holds the clip (5 frames into its file, at 01:00:02:00; named ``item_name``, by
    default as its media pool clip); A1 its own sound, linked to it; A2 ("Dub") the new
    dialogue, starting 5 frames before the clip."""
    app, resolve = make_resolve(
        product, version, probe_props, timeline_fps="25", timeline_start_frame=TIMELINE_START
    )
    project = resolve.GetProjectManager().GetCurrentProject()
    timeline = project.GetCurrentTimeline()
    pool = project.GetMediaPool()
    props = probe_props(str(media.video))
    if video_type is not None:
        props["Type"] = video_type
    video_clip = pool.add_clip(props)
    wav_clip = pool.add_clip(
        {
            "File Path": str(media.dialogue),
            "Clip Name": media.dialogue.name,
            "Type": "Audio",
            "FPS": "24",  # imported while the project ran at 24 fps: it keeps that rate
            "Frames": str(round(DIALOGUE_DURATION_S * 24)),
            "Start TC": "00:00:00:00",
            "Sample Rate": "48000",
        }
    )
    timeline.add_track("video")
    timeline.add_track("audio")
    timeline.add_track("audio", dialogue_track_name)
    item = FakeTimelineItem(
        app,
        timeline,
        video_clip,
        record_start=RECORD_START,
        duration=duration,
        left_offset=left_offset,
        speed=speed,
        name=item_name,
    )
    own_sound = FakeTimelineItem(
        app,
        timeline,
        video_clip,
        record_start=RECORD_START,
        duration=duration,
        left_offset=left_offset,
    )
    dialogue = FakeTimelineItem(
        app,
        timeline,
        wav_clip,
        record_start=RECORD_START - DIALOGUE_LEAD,
        duration=duration + DIALOGUE_LEAD,
        left_offset=0,
    )
    item.linked, own_sound.linked = [own_sound], [item]
    assert timeline.place("video", 1, item)
    assert timeline.place("audio", 1, own_sound)
    assert timeline.place("audio", 2, dialogue)
    timeline.SetCurrentTimecode("01:00:02:10")  # the playhead is over the clip
    return Project(app, resolve, timeline, item, dialogue)

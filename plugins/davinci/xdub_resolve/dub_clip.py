"""The "XDub - Dub clip" command: the selected clip and its new dialogue become a job.

Stdlib-only. ``run(namespace)`` is the whole menu command; ``namespace`` is the script's globals
(Resolve seeds ``resolve``/``fusion``/``bmd``/``app``).
"""

from __future__ import annotations

import os
import wave
from collections.abc import Callable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from xdub_resolve.dialogue import choose_dialogue
from xdub_resolve.host import HostError, ResolveTimeline, acquire_resolve
from xdub_resolve.job import DialogueSource, JobSpec, build_job
from xdub_resolve.link import local_take, open_client
from xdub_resolve.preset import choose_preset, preset_note
from xdub_resolve.progress import ConsoleView, JobWatcher, WindowView
from xdub_resolve.settings import job_options
from xdub_resolve.takes import place_take
from xdub_resolve.timing import Piece, TimingError, check_speed, dialogue_piece, media_span
from xdub_resolve.xdub_protocol.exceptions import XdubError
from xdub_resolve.xdub_protocol.otio_json import job_to_json
from xdub_resolve.xdub_protocol.precheck import precheck_dub
from xdub_resolve.xdub_protocol.records import DubOptions

DEFAULT_SAMPLE_RATE_HZ = 48000
TAKES_FOLDER = "xdub takes"
"""Takes go into this folder beside the clip's media (or the settings' ``output_dir``), so they
stay with the project: the daemon's retention prunes only its own job folders. A remote
daemon's take is downloaded there."""
Write = Callable[[str], None]


def takes_folder(video_path: str, options: Mapping[str, Any]) -> str:
    """Where the takes of a clip of ``video_path`` go: ``options``' ``output_dir``, else
    ``TAKES_FOLDER`` beside the file."""
    chosen = options.get("output_dir")
    return str(chosen) if chosen else os.path.join(os.path.dirname(video_path), TAKES_FOLDER)


def make_view(namespace: Mapping[str, Any], host: ResolveTimeline, write: Write) -> Any:
    """The window on Studio (``fusion.UIManager`` is read only then), else the Console."""
    bmd = namespace.get("bmd")
    if not host.edition.has_ui_manager or bmd is None:
        return ConsoleView(write)
    fusion = namespace.get("fusion") or host.resolve.Fusion()
    ui = fusion.UIManager if fusion is not None else None
    if ui is None:
        return ConsoleView(write)
    return WindowView(ui, bmd.UIDispatcher(ui))


def _file_source(path: str, duration_s: Fraction) -> DialogueSource:
    """A dialogue file from disk, placed at the clip's first frame (WAV length read if it can)."""
    if not os.path.isabs(path) or not os.path.isfile(path):
        raise HostError(f"the dialogue file {path!r} does not exist (give an absolute path)")
    rate = Fraction(DEFAULT_SAMPLE_RATE_HZ)
    length_s = duration_s
    if path.lower().endswith(".wav"):
        try:
            with wave.open(path, "rb") as stream:
                rate = Fraction(stream.getframerate())
                length_s = min(duration_s, Fraction(stream.getnframes()) / rate)
        except (wave.Error, EOFError):
            pass  # WAV flavours the stdlib cannot read (float, extensible): the daemon can
    return DialogueSource(path, rate, (Piece(Fraction(0), length_s, Fraction(0)),))


def gather_job(host: ResolveTimeline, item: Any, dialogue: int | str) -> JobSpec:
    """The job for ``item`` dubbed with audio track ``dialogue`` (an index) or a file path."""
    what = f"video clip {item.GetName()!r}"
    media = host.media(item, what)
    timing = host.timing(item, media)
    check_speed(timing, what)
    span = media_span(timing)
    if isinstance(dialogue, str):
        sources = [_file_source(dialogue, span.duration_s)]
    else:
        sources = []
        for audio in host.audio_items_under(dialogue, timing.record_start, timing.record_end):
            audio_what = f"dialogue clip {audio.GetName()!r}"
            audio_media = host.media(audio, audio_what)
            audio_timing = host.timing(audio, audio_media)
            check_speed(audio_timing, audio_what)
            piece = dialogue_piece(audio_timing, timing.record_start, span.duration_s)
            if piece is not None:
                rate = Fraction(audio_media.sample_rate_hz or audio_media.rate.fps)
                sources.append(DialogueSource(audio_media.path, rate, (piece,)))
        if not sources:
            raise HostError(
                f"audio track {dialogue} has no clip under {what}: put the new dialogue there"
            )
    pool_item = item.GetMediaPoolItem()
    return JobSpec(
        name=host.name,
        clip_name=str(item.GetName() or ""),
        video_path=media.path,
        span=span,
        media_num_frames=media.num_frames,
        record_start_frame=timing.record_start,
        timeline_fps=host.rate.fps,
        timeline_start_frame=host.start_frame,
        dialogue=tuple(sources),
        host_ids={
            "project": str(host.project.GetName() or ""),
            "timeline": host.name,
            "item": str(item.GetUniqueId()),
            "media_pool_item": str(pool_item.GetUniqueId()),
        },
        raw={
            "record_start": timing.record_start,
            "record_end": timing.record_end,
            "left_offset": timing.left_offset,
            "source_start": timing.source_start,
            "source_end": timing.source_end,
            "timeline_fps": float(host.rate.fps),
            "media_fps": float(media.rate.fps),
            "media_start_tc_frame": media.start_tc,
        },
    )


def run(
    namespace: Mapping[str, Any], *, write: Write = print, connection_file: Path | None = None
) -> int:
    """The "Dub clip" command: 0 when the take is on the timeline, 1 otherwise (said why)."""
    try:
        host = ResolveTimeline(acquire_resolve(namespace))
        view = make_view(namespace, host, write)
        item = host.selected_video_item()
        spec = gather_job(host, item, choose_dialogue(host, item, view, write))
        otio = job_to_json(build_job(spec))
        chosen = job_options()
        chosen["preset"] = choose_preset(view, chosen.get("preset"))
        chosen["output_dir"] = takes_folder(spec.video_path, chosen)
        options = DubOptions.from_json(chosen, where="the settings' options")
        for source in spec.dialogue:  # fail fast, before the daemon: files, folder, disk
            precheck_dub(Path(spec.video_path), Path(source.path), Path(chosen["output_dir"]))
        with open_client(connection_file) as client:
            job_id = client.submit(otio, options).job_id
            preset = options.preset.value
            write(f"XDub: {preset} preset ({preset_note(view, preset)})")
            watcher = JobWatcher(client, job_id)
            view.wait(watcher, str(item.GetName()))
            if watcher.state != "done" or not watcher.result_otio:
                write(f"XDub: job {job_id} {watcher.status_text()}")
                return 1
            take = local_take(client, job_id, watcher.result_otio, write)
        how = place_take(host, item, take, write=write)
        where = "as a take (Take Selector)" if how == "take" else "on a new video track above"
        write(f"XDub: the dubbed take {take.path} is on the timeline {where}")
        return 0
    except (HostError, TimingError, XdubError, ValueError) as error:
        write(f"XDub: {error}")
        return 1

"""This .blend's jobs: records in ``scene.xdub_jobs``, and applying the worker's updates.

``drain`` is the main-thread half of the worker: ``bpy.app.timers`` calls it through
``tick`` in the UI; headless (timers never fire in background mode) tests call it directly.
Records live in the scene, so a saved and reopened .blend still knows its pending jobs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
from collections.abc import Iterable
from typing import Any

import bpy

from . import compat, host
from .core.timing import MovieSpan
from .worker import DOWNLOAD_STAGE, Update
from .xdub_protocol.exceptions import XdubError
from .xdub_protocol.takes import read_take

log = logging.getLogger(__name__)

TERMINAL_STATES = ("done", "failed", "cancelled")
DOWNLOADING = DOWNLOAD_STAGE
"""The state of a done job's record while its take's download runs again (Download Take)."""
NO_SOUND_STRIPS = "no take sound: this Blender is built without audio (Audaspace)"


class XDUB_PG_job(bpy.types.PropertyGroup):
    """One submitted job and what is needed to place its take."""

    job_id: bpy.props.StringProperty(name="Job")  # type: ignore[valid-type]
    clip_name: bpy.props.StringProperty(name="Clip")  # type: ignore[valid-type]
    strip_name: bpy.props.StringProperty(name="Strip")  # type: ignore[valid-type]
    strip_channel: bpy.props.IntProperty(name="Channel")  # type: ignore[valid-type]
    record_start: bpy.props.IntProperty()  # type: ignore[valid-type]
    num_frames: bpy.props.IntProperty()  # type: ignore[valid-type]
    media_start: bpy.props.IntProperty()  # type: ignore[valid-type]
    media_num_frames: bpy.props.IntProperty()  # type: ignore[valid-type]
    fps: bpy.props.FloatProperty()  # type: ignore[valid-type]
    take_number: bpy.props.IntProperty(name="Take")  # type: ignore[valid-type]
    settings_json: bpy.props.StringProperty()  # type: ignore[valid-type]
    mute_original: bpy.props.BoolProperty(default=True)  # type: ignore[valid-type]
    add_sound: bpy.props.BoolProperty(default=False)  # type: ignore[valid-type]
    state: bpy.props.StringProperty(name="State", default="submitting")  # type: ignore[valid-type]
    stage: bpy.props.StringProperty(name="Stage")  # type: ignore[valid-type]
    fraction: bpy.props.FloatProperty(name="Progress", min=0.0, max=1.0)  # type: ignore[valid-type]
    message: bpy.props.StringProperty(name="Message")  # type: ignore[valid-type]
    take_strip: bpy.props.StringProperty(name="Take strip")  # type: ignore[valid-type]
    take_stopped: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Take download stopped",
        description="The job is done, but the download of its take was cancelled",
    )

    @property
    def is_pending(self) -> bool:
        return self.state not in TERMINAL_STATES

    @property
    def can_download_take(self) -> bool:
        """Done, with its take's download cancelled: Download Take resumes it."""
        return self.state == "done" and self.take_stopped and not self.take_strip

    def picture(self) -> MovieSpan:
        return MovieSpan(
            self.media_start, self.num_frames, self.media_num_frames, self.fps, self.record_start
        )


def job_records(scene: Any) -> Any:
    return scene.xdub_jobs


def add_record(scene: Any, job_id: str, strip: Any, picture: MovieSpan, settings: dict) -> Any:
    """A new record for a job dubbing ``strip``; its take number counts this clip's jobs."""
    records = job_records(scene)
    take_number = 1 + sum(1 for record in records if record.strip_name == strip.name)
    record = records.add()
    record.job_id = job_id
    record.clip_name = strip.name
    record.strip_name = strip.name
    record.strip_channel = strip.channel
    record.record_start = picture.record_start
    record.num_frames = picture.num_frames
    record.media_start = picture.start_frame
    record.media_num_frames = picture.media_num_frames
    record.fps = picture.fps
    record.take_number = take_number
    record.settings_json = json.dumps(settings, sort_keys=True)
    return record


def find_record(scenes: Iterable[Any], job_id: str) -> tuple[Any, Any] | tuple[None, None]:
    for scene in scenes:
        for record in job_records(scene):
            if record.job_id == job_id:
                return scene, record
    return None, None


def restart_download(record: Any) -> None:
    """Make the record of a job whose take's download was cancelled pending again (the
    ``downloading`` state) until the worker, following the job again, reports it done."""
    record.state = record.stage = DOWNLOADING
    record.take_stopped = False
    record.message = ""


def pending_job_ids(scenes: Iterable[Any]) -> list[str]:
    return [record.job_id for scene in scenes for record in job_records(scene) if record.is_pending]


def _place(scene: Any, record: Any, result_otio: str, take_path: str = "") -> None:
    """Put the take on the timeline; ``take_path``: its downloaded copy (a remote daemon's)."""
    take = read_take(result_otio)
    if take_path:
        take = dataclasses.replace(take, path=take_path)
    name = f"{record.clip_name} take {record.take_number}"
    properties = {
        "xdub_job": record.job_id,
        "xdub_source_strip": record.strip_name,
        "xdub_take": record.take_number,
        "xdub_model": take.model,
        "xdub_settings": {**json.loads(record.settings_json or "{}"), **take.settings},
        "xdub_warnings": list(take.warnings),
    }
    add_sound = record.add_sound and compat.has_sound_strips()
    placed = host.place_take(
        scene,
        record.picture(),
        record.strip_name,
        record.strip_channel,
        take,
        name=name,
        properties=properties,
        mute_original=record.mute_original,
        add_sound=add_sound,
    )
    notes = [*take.warnings, *([NO_SOUND_STRIPS] if record.add_sound and not add_sound else [])]
    record.take_strip = placed.strip_name
    record.message = f"take on channel {placed.channel}" + "".join(f"; {n}" for n in notes)
    _undo_push(f"xdub: place {name}")


def _undo_push(message: str) -> None:
    """Record the current state as an undo step named ``message``.

    Blender's own undo system does it (memfile undo): Ctrl+Z goes back to the step before.
    Timers have a screen, which is all ``ed.undo_push`` polls for; in background mode the
    first push starts the undo stack, which is off there until a script pushes.
    """
    try:
        bpy.ops.ed.undo_push(message=message)
    except RuntimeError as error:
        log.debug("no undo step for %r: %s", message, error)


def apply_update(scene: Any, record: Any, update: Update) -> None:
    """Fold one update into a record; a job that became done gets its take placed."""
    if update.error is not None:
        code, message, hint = update.error
        record.message = f"[{code}] {message}" + (f" ({hint})" if hint else "")
        if record.state == "submitting":
            record.state = "failed"
    if update.take_stopped:
        record.take_stopped = True
    if update.stage:
        record.stage = update.stage
    if update.fraction is not None:
        record.fraction = update.fraction
    if update.state and update.state != record.state:
        record.state = update.state
        if update.state in TERMINAL_STATES:
            if update.state == "done":
                record.fraction = 1.0
            # Its own step, so that undoing what comes next (the take, or a later edit) does
            # not take the record back to a state the daemon will never report again.
            _undo_push(f"xdub: {record.clip_name} {update.state}")
        if update.state == "done" and update.result_otio and not record.take_strip:
            try:
                _place(scene, record, update.result_otio, update.take_path)
            except XdubError as error:
                record.message = f"[{error.code}] could not place the take: {error.message}"


def drain(updates: queue.Queue[Update], scenes: Iterable[Any]) -> int:
    """Apply every queued update to the records of ``scenes``; returns how many were applied."""
    scenes = list(scenes)
    applied = 0
    while True:
        try:
            update = updates.get_nowait()
        except queue.Empty:
            return applied
        scene, record = find_record(scenes, update.job_id)
        if record is None:
            log.debug("an update for job %s of no open scene", update.job_id)
            continue
        apply_update(scene, record, update)
        applied += 1


def status_text(scenes: Iterable[Any]) -> str:
    """One line for the status bar: the running jobs and their progress, or ""."""
    parts = [
        f"{record.clip_name} {record.stage or record.state} {record.fraction:.0%}"
        for scene in scenes
        for record in job_records(scene)
        if record.is_pending
    ]
    return ("xdub: " + ", ".join(parts)) if parts else ""

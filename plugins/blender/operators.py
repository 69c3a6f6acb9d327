"""The operators: Dub Clip, cancel a job, download a take again, start the daemon, reconnect."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy

from . import compat, host, jobs, runtime
from .core.job_json import build_job
from .core.placement import takes_folder
from .core.timing import dialogue_pieces, file_dialogue
from .xdub_protocol.connection import find_daemon
from .xdub_protocol.exceptions import MediaError, XdubError
from .xdub_protocol.otio_json import job_to_json
from .xdub_protocol.precheck import (
    MIN_TAKE_BYTES,
    check_free_space,
    check_input_file,
    check_output_folder,
)
from .xdub_protocol.records import DubOptions

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

STEP_PRESETS = {"FEW": 10, "STANDARD": 30, "HIGH": 50}
"""Denoising steps of each steps preset; "CUSTOM" uses the operator's own value."""
FP8_CHOICES = {"auto": None, "off": False}
"""The ``fp8`` property's values: FP8 linears where the GPU has them (fast quality), or never."""
STEP_CACHE_CHOICES = {"default": None, "off": 0.0}
"""The ``step_cache_threshold`` property's values: the quality's default (on in fast), or off."""

DEFAULTS = DubOptions()
RANDOM_SEED = -1
"""The ``seed`` property's value for "a random seed" (a Blender int cannot be None)."""


def _report_error(operator: Any, error: XdubError) -> set[OperatorReturnItems]:
    hint = f" ({error.hint})" if error.hint else ""
    operator.report({"ERROR"}, f"xdub: {error.message}{hint}")
    return {"CANCELLED"}


def daemon_problem() -> XdubError | None:
    """Why no daemon can be reached right now, or None when one runs."""
    try:
        find_daemon(runtime.connection_file())
    except XdubError as error:
        return error
    return None


def precheck_inputs(video: str, audio: list[str], output_dir: str | None) -> None:
    """The protocol's stdlib precheck, before the daemon is asked: the clip and dialogue files
    are files, the takes folder (when the .blend is saved) is writable and has room."""
    check_input_file(Path(video), "a video")
    for path in audio:
        check_input_file(Path(path), "an audio or video file")
    if output_dir is not None:
        check_output_folder(Path(output_dir))
        check_free_space(Path(output_dir), MIN_TAKE_BYTES, "the take")


class XDUB_OT_dub_clip(bpy.types.Operator):
    """Dub the active movie strip with the selected sound strips (or an audio file)"""

    bl_idname = "sequencer.xdub_dub_clip"
    bl_label = "Dub Clip"
    bl_options = {"REGISTER", "UNDO"}

    dialogue: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Dialogue",
        items=(
            ("STRIPS", "Selected Sound Strips", "The selected sound strips under the clip"),
            ("FILE", "Audio File", "A file, from the clip's first frame on"),
        ),
        default="STRIPS",
    )
    filepath: bpy.props.StringProperty(name="Audio File", subtype="FILE_PATH")  # type: ignore[valid-type]
    steps_preset: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Steps",
        items=(
            ("FEW", "Few", "10 denoising steps"),
            ("STANDARD", "Standard", "30 denoising steps"),
            ("HIGH", "High", "50 denoising steps"),
            ("CUSTOM", "Custom", "The steps set below"),
        ),
        default="STANDARD",
    )
    quality: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Quality",
        items=(
            ("exact", "Exact", "The reference computation"),
            ("fast", "Fast", "FP8 linears where the GPU has them, step caching: a little lossy"),
        ),
        default=DEFAULTS.quality.value,
    )
    fp8: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="FP8",
        items=(
            ("auto", "Auto", "FP8 linears in fast quality where the GPU has them"),
            ("off", "Off", "Never FP8"),
        ),
        default="auto",
    )
    step_cache_threshold: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Step Cache",
        items=(
            ("default", "On in Fast", "Skip DiT passes that change little (fast quality only)"),
            ("off", "Off", "Compute every step"),
        ),
        default="default",
    )
    guidance_reuse_period: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Guidance Reuse Period",
        default=DEFAULTS.guidance_reuse_period,
        min=1,
        max=30,
        description="k > 1: one guidance branch is computed on every k-th pass only (1: off)",
    )
    guidance_reuse_branch: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Reused Branch",
        items=(
            ("nega", "Negative", "The branch without reference or audio (the smaller error)"),
            ("posi_r", "Reference Only", "The audio-dropped branch"),
        ),
        default=DEFAULTS.guidance_reuse_branch,
    )
    preset: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Preset",
        items=(
            ("final", "Final", "The take as the options below say"),
            ("draft", "Draft", "For auditioning: fewer steps, a smaller crop, about 5x faster"),
        ),
        default=DEFAULTS.preset.value,
    )
    num_steps: bpy.props.IntProperty(name="Steps", default=DEFAULTS.num_steps, min=1, max=1000)  # type: ignore[valid-type]
    ref_cfg_scale: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Reference Guidance", default=DEFAULTS.ref_cfg_scale, min=0.0
    )
    audio_cfg_scale: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Audio Guidance", default=DEFAULTS.audio_cfg_scale, min=0.0
    )
    seed: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Seed", default=RANDOM_SEED, min=RANDOM_SEED, description="-1: a random seed"
    )
    independent_noise: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Independent Noise", default=DEFAULTS.independent_noise
    )
    speaker: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Speaker",
        items=(
            ("largest", "Largest Face", "The person with the largest face over the clip"),
            ("highest_score", "Best Detection", "Each frame's most confident person"),
        ),
        default=DEFAULTS.speaker.value,
    )
    missing_face: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Missing Face",
        items=(
            ("error", "Refuse Take", "Fail when the face is lost for a while"),
            ("pass_through", "Leave Frames", "Keep the frames without a face as they are"),
        ),
        default=DEFAULTS.missing_face.value,
    )
    codec: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Codec",
        items=(
            ("prores_hq", "ProRes 422 HQ", ""),
            ("dnxhr_hq", "DNxHR HQ", ""),
            ("h264", "H.264", "High quality H.264"),
        ),
        default=DEFAULTS.codec.value,
    )
    mute_original: bpy.props.BoolProperty(name="Mute Original", default=True)  # type: ignore[valid-type]
    add_sound: bpy.props.BoolProperty(name="Add Take Sound", default=False)  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        scene = compat.sequencer_scene(context)
        return scene is not None and compat.active_strip(context) is not None

    def invoke(self, context: Any, event: Any) -> set[OperatorReturnItems]:
        return context.window_manager.invoke_props_dialog(self)

    def draw(self, context: Any) -> None:
        layout = self.layout
        if layout is None:
            return
        problem = daemon_problem()
        if problem is not None:
            layout.label(text=f"Daemon: {problem.message}", icon="ERROR")
            layout.operator(XDUB_OT_start_daemon.bl_idname, icon="PLAY")
        layout.prop(self, "dialogue")
        if self.dialogue == "FILE":
            layout.prop(self, "filepath")
        layout.prop(self, "preset", expand=True)
        self.draw_speed(layout.box())
        layout.prop(self, "ref_cfg_scale")
        layout.prop(self, "audio_cfg_scale")
        layout.prop(self, "codec")
        layout.prop(self, "seed")
        layout.prop(self, "independent_noise")
        layout.prop(self, "speaker")
        layout.prop(self, "missing_face")
        layout.prop(self, "mute_original")
        row = layout.row()
        row.enabled = compat.has_sound_strips()  # a take sound needs Audaspace
        row.prop(self, "add_sound")

    def draw_speed(self, box: Any) -> None:
        """Steps and the fast-mode switches; the draft preset sets steps and quality itself."""
        final = box.column()
        final.enabled = self.preset == "final"
        final.prop(self, "steps_preset")
        if self.steps_preset == "CUSTOM":
            final.prop(self, "num_steps")
        final.row().prop(self, "quality", expand=True)
        fast = box.column()
        fast.enabled = self.preset == "draft" or self.quality == "fast"
        fast.row().prop(self, "fp8", expand=True)
        fast.row().prop(self, "step_cache_threshold", expand=True)
        box.prop(self, "guidance_reuse_period")
        if self.guidance_reuse_period > 1:
            box.row().prop(self, "guidance_reuse_branch", expand=True)

    def job_options(self) -> DubOptions:
        from .xdub_protocol.records import Codec, MissingFace, Preset, Quality, Speaker

        steps = STEP_PRESETS.get(self.steps_preset, self.num_steps)
        return DubOptions(
            codec=Codec(self.codec),
            num_steps=steps,
            ref_cfg_scale=self.ref_cfg_scale,
            audio_cfg_scale=self.audio_cfg_scale,
            seed=None if self.seed == RANDOM_SEED else self.seed,
            independent_noise=self.independent_noise,
            speaker=Speaker(self.speaker),
            missing_face=MissingFace(self.missing_face),
            output_dir=takes_folder(bpy.data.filepath),
            preset=Preset(self.preset),
            quality=Quality(self.quality),
            fp8=FP8_CHOICES[self.fp8],
            step_cache_threshold=STEP_CACHE_CHOICES[self.step_cache_threshold],
            guidance_reuse_period=self.guidance_reuse_period,
            guidance_reuse_branch=self.guidance_reuse_branch,
        )

    def execute(self, context: Any) -> set[OperatorReturnItems]:
        scene = compat.sequencer_scene(context)
        strip = compat.active_strip(context)
        try:
            warnings = host.check_picture(scene, strip)
            picture = host.picture_span(scene, strip)
            if self.dialogue == "FILE":
                audio_path = bpy.path.abspath(self.filepath)
                if not self.filepath or not os.path.isfile(audio_path):
                    raise MediaError(f"audio file {audio_path!r} does not exist")
                pieces = file_dialogue(picture, audio_path)
            else:
                sounds = host.sound_timings(compat.selected_strips(context))
                pieces = dialogue_pieces(picture, sounds, host.fps_of(scene))
                warnings += host.unreadable_retiming(scene, [piece.name for piece in pieces])
            video_path = bpy.path.abspath(strip.filepath)
            if not os.path.isfile(video_path):
                raise MediaError(f"the clip's file {video_path!r} does not exist", hint="relink it")
            options = self.job_options()
            precheck_inputs(video_path, [piece.path for piece in pieces], options.output_dir)
            problem = daemon_problem()
            if problem is not None:
                problem.hint = "use Start xdub Daemon (xdub sidebar) or run `xdub daemon start`"
                raise problem
            timeline = build_job(
                scene.name,
                os.path.abspath(video_path),
                picture,
                pieces,
                clip_name=strip.name,
                timeline_start=min(scene.frame_start, picture.record_start),
                host_ids={"scene": scene.name, "strip": strip.name, "blend": bpy.data.filepath},
            )
        except XdubError as error:
            return _report_error(self, error)
        job_id = uuid.uuid4().hex
        settings = options.to_json()
        record = jobs.add_record(scene, job_id, strip, picture, settings)
        record.mute_original = self.mute_original
        record.add_sound = self.add_sound
        takes_dir = runtime.takes_dir()
        runtime.ensure_worker().submit(job_id, job_to_json(timeline), options, takes_dir)
        for warning in warnings:
            self.report({"WARNING"}, f"xdub: {warning}")
        self.report({"INFO"}, f"xdub: submitted {strip.name!r} as job {job_id[:8]}")
        return {"FINISHED"}


class XDUB_OT_cancel_job(bpy.types.Operator):
    """Cancel this xdub job"""

    bl_idname = "sequencer.xdub_cancel_job"
    bl_label = "Cancel xdub Job"

    job_id: bpy.props.StringProperty()  # type: ignore[valid-type]

    def execute(self, context: Any) -> set[OperatorReturnItems]:
        runtime.ensure_worker().cancel(self.job_id)
        return {"FINISHED"}


class XDUB_OT_download_take(bpy.types.Operator):
    """Download this done job's take again, from the chunks a cancelled download fetched"""

    bl_idname = "sequencer.xdub_download_take"
    bl_label = "Download Take"

    job_id: bpy.props.StringProperty()  # type: ignore[valid-type]

    def execute(self, context: Any) -> set[OperatorReturnItems]:
        _, record = jobs.find_record(bpy.data.scenes, self.job_id)
        if record is None or not record.can_download_take:
            self.report({"ERROR"}, f"xdub: job {self.job_id[:8]} has no take to download")
            return {"CANCELLED"}
        jobs.restart_download(record)
        runtime.ensure_worker().watch(self.job_id, runtime.takes_dir())
        self.report({"INFO"}, f"xdub: downloading the take of job {self.job_id[:8]}")
        return {"FINISHED"}


class XDUB_OT_reconnect(bpy.types.Operator):
    """Follow this file's pending jobs again (after the daemon was restarted)"""

    bl_idname = "sequencer.xdub_reconnect"
    bl_label = "Reconnect to xdub"

    def execute(self, context: Any) -> set[OperatorReturnItems]:
        count = runtime.watch_pending()
        self.report({"INFO"}, f"xdub: following {count} pending job(s)")
        return {"FINISHED"}


class XDUB_OT_start_daemon(bpy.types.Operator):
    """Start the xdub daemon (the command set in the add-on preferences)"""

    bl_idname = "sequencer.xdub_start_daemon"
    bl_label = "Start xdub Daemon"

    def execute(self, context: Any) -> set[OperatorReturnItems]:
        command = [runtime.xdub_command(), "daemon", "start"]
        try:
            subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL)
        except OSError as error:
            self.report(
                {"ERROR"},
                f"xdub: could not run {' '.join(command)!r}: {error} "
                "(set the xdub command in the add-on preferences)",
            )
            return {"CANCELLED"}
        self.report({"INFO"}, f"xdub: starting the daemon ({Path(command[0]).name} daemon start)")
        return {"FINISHED"}


CLASSES = (
    XDUB_OT_dub_clip,
    XDUB_OT_cancel_job,
    XDUB_OT_download_take,
    XDUB_OT_reconnect,
    XDUB_OT_start_daemon,
)

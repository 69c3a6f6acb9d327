"""The sidebar panel listing this file's jobs, the add-on preferences, and the menu entries."""

from __future__ import annotations

from typing import Any

import bpy

from . import compat, jobs, operators


class XDUB_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = __package__ or "xdub"

    connection_file: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Connection File",
        description="The daemon's connection file; empty: the default per-user one",
        subtype="FILE_PATH",
    )
    xdub_command: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="xdub Command",
        description="The xdub executable used by Start xdub Daemon (default: xdub on PATH)",
        default="xdub",
        subtype="FILE_PATH",
    )

    def draw(self, context: Any) -> None:
        self.layout.prop(self, "connection_file")
        self.layout.prop(self, "xdub_command")


class XDUB_PT_jobs(bpy.types.Panel):
    bl_label = "xdub Jobs"
    bl_idname = "SEQUENCER_PT_xdub_jobs"
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "xdub"

    def draw(self, context: Any) -> None:
        layout = self.layout
        if layout is None:
            return
        problem = operators.daemon_problem()
        if problem is not None:
            layout.label(text=problem.message, icon="ERROR")
            layout.operator(operators.XDUB_OT_start_daemon.bl_idname, icon="PLAY")
        layout.operator(operators.XDUB_OT_dub_clip.bl_idname, icon="SPEAKER")
        scene = compat.sequencer_scene(context)
        records = list(jobs.job_records(scene)) if scene else []
        if not records:
            layout.label(text="No jobs in this file")
            return
        for record in reversed(records):
            box = layout.box()
            row = box.row()
            row.label(text=f"{record.clip_name} take {record.take_number}: {record.state}")
            if record.is_pending:
                cancel = row.operator(
                    operators.XDUB_OT_cancel_job.bl_idname, text="", icon="CANCEL"
                )
                if cancel is not None:  # None only for an operator that is not registered
                    cancel.job_id = record.job_id
                box.progress(factor=record.fraction, text=record.stage or record.state)
            elif record.can_download_take:
                download = row.operator(
                    operators.XDUB_OT_download_take.bl_idname, text="Download Take", icon="IMPORT"
                )
                if download is not None:
                    download.job_id = record.job_id
            if record.message:
                box.label(text=record.message)
        if any(record.is_pending for record in records):
            layout.operator(operators.XDUB_OT_reconnect.bl_idname, icon="FILE_REFRESH")


def menu_entry(self: Any, context: Any) -> None:
    self.layout.separator()
    self.layout.operator(operators.XDUB_OT_dub_clip.bl_idname, icon="SPEAKER")


MENUS = ("SEQUENCER_MT_strip", "SEQUENCER_MT_context_menu")
CLASSES = (XDUB_AP_preferences, XDUB_PT_jobs)

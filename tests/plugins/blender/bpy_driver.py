"""Runs inside a bpy venv (Blender as a Python module): installs the extension zip offline and
plays the scenarios, writing what it observed as JSON for the pytest side to assert on.

python bpy_driver.py CONFIG.json OUT.json   (BLENDER_USER_RESOURCES set to a temp folder)

CONFIG's ``scenarios`` names the ones to play (default: all but ``remote`` and
``remote_restart``, which dub through the remote daemon of ``remote_connection_file``).

A Blender built without Audaspace (PyPI's bpy 4.2) cannot make sound strips: there the scenes
have none, the operator is given the dialogue as a picked file, and the scenarios about sound
strips are left out (the pytest side skips their tests).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import bpy

PACKAGE = "bl_ext.user_default.xdub"
FPS = 25
HAS_SOUND_STRIPS = bool(bpy.app.build_options.audaspace)
"""``new_sound`` raises "Blender compiled without Audaspace support" where this is False."""


def install(zip_path: str) -> dict[str, Any]:
    bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True
    )
    return {
        "enabled": PACKAGE in bpy.context.preferences.addons,
        "operator": hasattr(bpy.ops.sequencer, "xdub_dub_clip"),
        "menus": [
            name
            for name in ("SEQUENCER_MT_strip", "SEQUENCER_MT_context_menu")
            if any(
                f.__name__ == "menu_entry" for f in getattr(bpy.types, name)._dyn_ui_initialize()
            )
        ],
        "zmq": importlib.util.find_spec("zmq") is not None,
        "version": bpy.app.version_string,
        "sound_strips": HAS_SOUND_STRIPS,
    }


def prefs() -> Any:
    return bpy.context.preferences.addons[PACKAGE].preferences


def strips(scene: Any) -> Any:
    editor = scene.sequence_editor_create()
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def fresh_scene(config: dict[str, Any], fps: int = FPS) -> tuple[Any, Any]:
    """A scene with the movie on channel 2 (handles trimmed) and two dialogue strips on 1
    (none without Audaspace), all selected."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = fps, 1.0
    collection = strips(scene)
    movie = collection.new_movie("A001", config["video"], 2, 10)
    movie.frame_final_start = 13  # left handle 3 frames in
    movie.frame_final_end = 50  # right handle in too
    if HAS_SOUND_STRIPS:
        first = collection.new_sound("line1", config["audio"], 1, 13)
        first.frame_final_end = 30
        collection.new_sound("line2", config["audio"], 1, 35)
    for strip in collection:
        strip.select = True
    scene.sequence_editor.active_strip = movie
    return scene, movie


def new_effect(scene: Any, name: str, kind: str, channel: int, source: Any) -> Any:
    """An effect strip fed by ``source`` from its left handle on (the input argument is
    ``seq1`` in 4.2, ``input1`` since 4.4)."""
    collection = strips(scene)
    parameters = collection.bl_rna.functions["new_effect"].parameters
    source_key = "input1" if "input1" in parameters else "seq1"
    start = source.frame_final_start
    return collection.new_effect(
        name=name, type=kind, channel=channel, frame_start=start, **{source_key: source}
    )


def window_override(**extra: Any) -> Any:
    """A context with the (headless) window and its screen: undo/redo poll for a screen."""
    window = bpy.context.window_manager.windows[0]
    return bpy.context.temp_override(window=window, screen=window.screen, **extra)


def retime(scene: Any, strip: Any) -> dict[str, Any]:
    """Add a retiming key mid-strip and set a segment to 50 % with Blender's Retiming operators,
    in a Sequencer area. (``retiming_keys.add()`` segfaults bpy 4.5 and 5.0 on a strip that has
    no retiming data yet: the RNA function does not create it, the operators do.)"""
    window = bpy.context.window_manager.windows[0]
    area = window.screen.areas[0]
    area.type = "SEQUENCE_EDITOR"
    region = next(region for region in area.regions if region.type == "WINDOW")
    if "sequencer_scene" in window.workspace.bl_rna.properties:  # 5.x polls on it
        window.workspace.sequencer_scene = scene
    selection = {item.name: item.select for item in strips(scene)}
    active = scene.sequence_editor.active_strip
    for item in strips(scene):
        item.select = item == strip
    scene.sequence_editor.active_strip = strip
    before = (strip.frame_final_start, strip.frame_final_end)
    middle = (strip.frame_final_start + strip.frame_final_end) // 2
    with window_override(area=area, region=region):
        bpy.ops.sequencer.retiming_key_add(timeline_frame=middle)
        bpy.ops.sequencer.retiming_segment_speed_set(speed=50.0)
    for item in strips(scene):
        item.select = selection[item.name]
    scene.sequence_editor.active_strip = active
    return {
        "keys": [key.timeline_frame for key in strip.retiming_keys],
        "handles_before": before,
        "handles_after": (strip.frame_final_start, strip.frame_final_end),
    }


def dub(config: dict[str, Any], **options: Any) -> str:
    """Run Dub Clip; returns its error ("" when it submitted). Without Audaspace the dialogue
    is the picked file unless ``options`` say otherwise."""
    if not HAS_SOUND_STRIPS:
        options = {"dialogue": "FILE", "filepath": config["audio"], **options}
    try:
        bpy.ops.sequencer.xdub_dub_clip("EXEC_DEFAULT", **options)
    except RuntimeError as error:
        return str(error)
    return ""


def runtime() -> Any:
    return importlib.import_module(f"{PACKAGE}.runtime")


def host() -> Any:
    return importlib.import_module(f"{PACKAGE}.host")


def record_of(job_id: str) -> Any:
    for scene in bpy.data.scenes:
        for record in scene.xdub_jobs:
            if record.job_id == job_id:
                return record
    return None


def poll_until(job_id: str, states: tuple[str, ...], timeout_s: float) -> dict[str, Any]:
    """Call the timer's poll function by hand (timers never fire in background mode)."""
    deadline = time.monotonic() + timeout_s
    seen: list[float] = []
    stages: set[str] = set()
    while time.monotonic() < deadline:
        runtime().poll()
        record = record_of(job_id)
        seen.append(record.fraction)
        stages.add(record.stage)
        if record.state in states:
            break
        time.sleep(0.05)
    return {
        "state": record.state,
        "message": record.message,
        "fractions": sorted(set(seen)),
        "stages": sorted(stages),
        "take_strip": record.take_strip,
    }


def describe(strip: Any) -> dict[str, Any]:
    return {
        "name": strip.name,
        "type": strip.type,
        "channel": strip.channel,
        "frame_final_start": strip.frame_final_start,
        "frame_final_end": strip.frame_final_end,
        "frame_start": strip.frame_start,
        "filepath": bpy.path.abspath(raw_path(strip)),
        "raw_filepath": raw_path(strip),
        "fps": getattr(strip, "fps", None),
        "mute": strip.mute,
        "props": {key: strip[key] for key in strip.keys() if key.startswith("xdub")},
    }


def raw_path(strip: Any) -> str:
    """The strip's file path as stored (``//`` relative to the .blend, or absolute)."""
    return str(strip.sound.filepath if strip.type == "SOUND" else getattr(strip, "filepath", ""))


def refusals(config: dict[str, Any]) -> dict[str, str]:
    out = {}
    prefs().connection_file = str(Path(config["work"]) / "no-daemon.json")
    fresh_scene(config)
    out["daemon_down"] = dub(config)
    prefs().connection_file = config["connection_file"]
    fresh_scene(config, fps=24)
    out["fps"] = dub(config)
    scene, movie = fresh_scene(config)
    image = strips(scene).new_image("stills", config["image"], 5, 1)
    scene.sequence_editor.active_strip = image
    out["image"] = dub(config)
    scene, movie = fresh_scene(config)
    meta = strips(scene).new_meta("group", 6, 1)
    scene.sequence_editor.active_strip = meta
    out["meta"] = dub(config)
    scene, movie = fresh_scene(config)
    movie.use_reverse_frames = True
    out["reversed"] = dub(config)
    scene, movie = fresh_scene(config)
    for strip in strips(scene):
        strip.select = strip == movie
    out["no_dialogue"] = dub(config, dialogue="STRIPS")
    fresh_scene(config)
    blocked = Path(config["work"]) / "blocked"
    blocked.mkdir(exist_ok=True)
    (blocked / "xdub_takes").write_text("a file where the takes folder goes")
    bpy.ops.wm.save_as_mainfile(filepath=str(blocked / "edit.blend"))
    out["takes_folder"] = dub(config)
    fresh_scene(config)
    missing = str(Path(config["work"]) / "absent.wav")
    out["missing_file"] = dub(config, dialogue="FILE", filepath=missing)
    return out


def speed_changes(config: dict[str, Any]) -> dict[str, Any]:
    """Retimed strips (the dialogue's only with Audaspace), speed effects on the clip (directly
    or through another effect) and other effects, which only warn (read from the host adapter:
    the operator would submit)."""
    prefs().connection_file = config["connection_file"]
    out: dict[str, Any] = {}
    scene, movie = fresh_scene(config)
    out["retiming"] = retime(scene, movie)
    out["retimed"] = dub(config)
    if HAS_SOUND_STRIPS:
        scene, movie = fresh_scene(config)
        out["unreadable_retiming"] = host().unreadable_retiming(scene, ["line1", "line2"])
        out["dialogue_retiming"] = retime(scene, strips(scene)["line1"])
        out["retimed_dialogue"] = dub(config)
    scene, movie = fresh_scene(config)
    new_effect(scene, "slow", "SPEED", 3, movie)
    out["speed_effect"] = dub(config)
    scene, movie = fresh_scene(config)
    blur = new_effect(scene, "blur", "GAUSSIAN_BLUR", 3, movie)
    out["effect_warnings"] = host().check_picture(scene, movie)
    new_effect(scene, "slow", "SPEED", 4, blur)
    out["speed_after_effect"] = dub(config)
    return out


def undo_redo(dubbed: dict[str, Any]) -> dict[str, Any]:
    """Undo the placed take, poll again, redo: what the timeline holds after each step."""

    def seen() -> dict[str, Any]:
        scene = bpy.data.scenes[0]  # looked up again: undo replaces every data-block
        collection = strips(scene)
        (record,) = scene.xdub_jobs
        take = collection.get(dubbed["take_strip"])
        return {
            "strips": sorted(strip.name for strip in collection),
            "original_mute": collection["A001"].mute,
            "record": (record.state, record.take_strip),
            "take": describe(take) if take else None,
        }

    out: dict[str, Any] = {"placed": seen()}
    with window_override():
        out["undo"] = sorted(bpy.ops.ed.undo())
    out["undone"] = seen()
    runtime().poll()
    out["polled"] = seen()
    with window_override():
        out["redo"] = sorted(bpy.ops.ed.redo())
    out["redone"] = seen()
    return out


def dub_and_reopen(config: dict[str, Any]) -> dict[str, Any]:
    prefs().connection_file = config["connection_file"]
    scene, movie = fresh_scene(config)
    blocker = (  # channel 3 is busy
        strips(scene).new_sound("blocker", config["audio"], 3, 40)
        if HAS_SOUND_STRIPS
        else strips(scene).new_image("blocker", config["image"], 3, 40)
    )
    blocker.select = False
    blend = str(Path(config["work"]) / "project.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)  # saved: takes go to //xdub_takes/
    error = dub(
        config,
        steps_preset="CUSTOM",
        num_steps=config["num_steps"],
        codec="h264",
        add_sound=True,
        seed=5,
        independent_noise=True,
        missing_face="pass_through",
    )
    (record,) = scene.xdub_jobs
    job_id = record.job_id
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    bpy.ops.wm.open_mainfile(filepath=blend)  # load_post follows the pending job again
    result = poll_until(job_id, ("done", "failed", "cancelled"), config["timeout_s"])
    scene = bpy.data.scenes[0]
    collection = strips(scene)
    result.update(
        submit_error=error,
        job_id=job_id,
        original=describe(collection["A001"]),
        take=describe(collection[result["take_strip"]]) if result["take_strip"] else None,
        take_media_frames=collection[result["take_strip"]].frame_duration
        if result["take_strip"]
        else None,
        take_sounds=[
            describe(strip)
            for strip in collection
            if strip.type == "SOUND" and strip.get("xdub_job") == job_id
        ],
    )
    return result


def cancel(config: dict[str, Any]) -> dict[str, Any]:
    """A long job with the dialogue picked as a file (on every version), cancelled once it runs."""
    prefs().connection_file = config["connection_file"]
    scene, _ = fresh_scene(config)
    error = dub(
        config, steps_preset="CUSTOM", num_steps=1000, dialogue="FILE", filepath=config["audio"]
    )
    (record,) = scene.xdub_jobs
    job_id = record.job_id
    poll_until(job_id, ("running",), config["timeout_s"])
    deadline = time.monotonic() + config["timeout_s"]
    while record_of(job_id).fraction == 0.0 and time.monotonic() < deadline:
        runtime().poll()
        time.sleep(0.05)
    bpy.ops.sequencer.xdub_cancel_job(job_id=job_id)
    result = poll_until(job_id, ("done", "failed", "cancelled"), config["timeout_s"])
    collection = strips(bpy.data.scenes[0])
    result.update(submit_error=error, job_id=job_id, strips=sorted(s.name for s in collection))
    return result


def draft(config: dict[str, Any]) -> dict[str, Any]:
    """Dub Clip with the Draft preset chosen, then with the fast-mode switches set: what the
    job records got."""
    prefs().connection_file = config["connection_file"]
    scene, _ = fresh_scene(config)
    choices = (
        {"preset": "draft"},
        {
            "quality": "fast",
            "fp8": "off",
            "step_cache_threshold": "off",
            "guidance_reuse_period": 2,
            "guidance_reuse_branch": "posi_r",
        },
    )
    errors = [dub(config, dialogue="FILE", filepath=config["audio"], **c) for c in choices]
    records = list(scene.xdub_jobs)
    for record in records:
        bpy.ops.sequencer.xdub_cancel_job(job_id=record.job_id)  # only the options matter here
    return {
        "submit_error": "".join(errors),
        "job_id": records[0].job_id,
        "settings": records[0].settings_json,
        "fast_settings": records[1].settings_json,
    }


def remote(config: dict[str, Any]) -> dict[str, Any]:
    """Dub through a remote daemon: the take is downloaded to //xdub_takes/ and placed."""
    prefs().connection_file = config["remote_connection_file"]
    scene, _ = fresh_scene(config)
    bpy.ops.wm.save_as_mainfile(filepath=str(Path(config["work"]) / "remote.blend"))
    error = dub(config, steps_preset="CUSTOM", num_steps=1, codec="h264", seed=5)
    (record,) = scene.xdub_jobs
    job_id = record.job_id
    result = poll_until(job_id, ("done", "failed", "cancelled"), config["timeout_s"])
    take = strips(scene)[result["take_strip"]] if result["take_strip"] else None
    return {
        **result,
        "submit_error": error,
        "job_id": job_id,
        "take": describe(take) if take is not None else None,
    }


def remote_restart(config: dict[str, Any]) -> dict[str, Any]:
    """A remote take's download cancelled from the sidebar (Reconnect, then Cancel at once, on
    a job that finished while the worker was away), then Download Take: it resumes from the
    chunk the cancelled download kept and the take is placed. The worker moves 64 KiB chunks
    (the tiny take makes several; the add-on's own worker uses 4 MiB ones)."""
    prefs().connection_file = config["remote_connection_file"]
    worker_module = importlib.import_module(f"{PACKAGE}.worker")
    client_module = importlib.import_module(f"{PACKAGE}.xdub_protocol.client")
    runtime().stop()
    worker = worker_module.DaemonWorker(runtime().connection_file(), chunk_bytes=64 * 1024)
    runtime()._state["worker"] = worker
    runtime().start()
    scene, _ = fresh_scene(config)
    blend = Path(config["work"]) / "restart" / "restart.blend"
    blend.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    takes = blend.parent / "xdub_takes"
    error = dub(config, steps_preset="CUSTOM", num_steps=1, codec="prores_hq", seed=6)
    (record,) = scene.xdub_jobs
    job_id = record.job_id
    submitted = poll_until(job_id, ("queued", "running", "done"), config["timeout_s"])
    worker.stop()  # Blender is busy elsewhere: nobody follows the job while it finishes
    with client_module.DaemonClient(runtime().connection_file(), client_name="test") as client:
        client.wait(job_id, timeout_s=config["timeout_s"])
    bpy.ops.sequencer.xdub_reconnect()
    bpy.ops.sequencer.xdub_cancel_job(job_id=job_id)
    stopped = poll_until(job_id, ("done", "failed", "cancelled"), config["timeout_s"])
    record = record_of(job_id)
    stopped.update(
        take_stopped=record.take_stopped,
        can_download_take=record.can_download_take,
        files={p.name: p.stat().st_size for p in takes.iterdir()} if takes.is_dir() else {},
    )
    partial = [p for p in takes.iterdir() if p.suffix == ".part"] if takes.is_dir() else []
    stopped["partial_sha256"] = (
        hashlib.sha256(partial[0].read_bytes()).hexdigest() if partial else ""
    )
    bpy.ops.sequencer.xdub_download_take(job_id=job_id)
    restarted_state = record_of(job_id).state
    result = poll_until(job_id, ("done", "failed", "cancelled"), config["timeout_s"])
    take = strips(bpy.data.scenes[0])[result["take_strip"]] if result["take_strip"] else None
    try:
        bpy.ops.sequencer.xdub_download_take(job_id=job_id)  # its take is there now
        again = ""
    except RuntimeError as refused:
        again = str(refused)
    return {
        **result,
        "submit_error": error,
        "submitted": submitted["state"],
        "job_id": job_id,
        "stopped": stopped,
        "restarted_state": restarted_state,
        "take_stopped_after": record_of(job_id).take_stopped,
        "take": describe(take) if take is not None else None,
        "files_after": sorted(p.name for p in takes.iterdir()),
        "again": again,
    }


DEFAULT_SCENARIOS = ("install", "refusals", "speed", "dub", "undo", "cancel", "draft")


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    wanted = config.get("scenarios", DEFAULT_SCENARIOS)
    facts: dict[str, Any] = {}
    for name, scenario in (
        ("install", lambda: install(config["zip"])),
        ("refusals", lambda: refusals(config)),
        ("speed", lambda: speed_changes(config)),
        ("dub", lambda: dub_and_reopen(config)),
        ("undo", lambda: undo_redo(facts["dub"])),
        ("cancel", lambda: cancel(config)),
        ("draft", lambda: draft(config)),
        ("remote", lambda: remote(config)),
        ("remote_restart", lambda: remote_restart(config)),
    ):
        if name not in wanted:
            continue
        try:
            facts[name] = scenario()
        except Exception:
            facts[name] = {"crash": traceback.format_exc()}
        Path(sys.argv[2]).write_text(json.dumps(facts, indent=1, default=str))
    bpy.ops.preferences.addon_disable(module=PACKAGE)  # unregister: joins the worker thread
    facts["worker_threads_after_disable"] = [
        t.name for t in __import__("threading").enumerate() if t.name == "xdub-daemon"
    ]
    Path(sys.argv[2]).write_text(json.dumps(facts, indent=1, default=str))


main()

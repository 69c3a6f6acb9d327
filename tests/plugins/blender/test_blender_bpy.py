"""The extension in real Blender (bpy 4.2 LTS, 4.5 LTS and 5.0 from PyPI, each in its own venv).

One bpy process per version installs the built zip offline, builds scenes from generated media
and plays every scenario (bpy_driver.py); the tests below assert on what it observed. They talk
to a real daemon (``support.daemon``) with tiny random weights, which dubs the part of the file
the strip uses. PyPI's bpy 4.2 is built without Audaspace, so it has no sound strips: there the
dialogue is a picked file, and the tests about sound strips skip.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.daemon import DaemonProcess

from xdub.media.synthetic import (
    AudioSpec,
    SyntheticVideoSpec,
    write_synthetic_audio,
    write_synthetic_video,
)

from .conftest import BPY_VENVS

REPO_ROOT = Path(__file__).resolve().parents[3]
DRIVER = Path(__file__).with_name("bpy_driver.py")
NUM_STEPS = 3
TIMEOUT_S = 240.0
"""Per scenario wait in bpy: a real tiny take of the strip's 37 frames (face tracking on the
shared 2-core machine) is the slowest step."""


def run_driver(
    python: Path, work: Path, config: dict[str, Any], timeout_s: float
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run ``bpy_driver.py`` with ``config`` in a bpy venv's ``python``, its Blender user
    folder in ``work``: the finished process and the facts it wrote."""
    (work / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(work / "blender-user")}
    env.pop("XDUB_CONNECTION_FILE", None)
    run = subprocess.run(
        [str(python), str(DRIVER), str(work / "config.json"), str(work / "facts.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    out = work / "facts.json"
    assert out.exists(), f"{python} wrote nothing:\n{run.stdout}\n{run.stderr}"
    return run, json.loads(out.read_text())


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("media")
    spec = SyntheticVideoSpec(duration_s=2.0)
    clip = write_synthetic_video(root / "A001.mp4", spec)
    write_synthetic_audio(root / "line.wav", spec.speech(), AudioSpec())
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 10, 10)).save(root / "still.png")
    return {
        "video": str(root / "A001.mp4"),
        "audio": str(root / "line.wav"),
        "image": str(root / "still.png"),
        "num_frames": str(clip.num_frames),
    }


@pytest.fixture(scope="module", params=sorted(BPY_VENVS))
def facts(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    extension_zip: Path,
    media: dict[str, str],
    blender_tiny_model: Path,
) -> Iterator[dict[str, Any]]:
    python = REPO_ROOT / BPY_VENVS[request.param] / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{python} is absent: run `bash installers/blender-test-env.sh`")
    work = tmp_path_factory.mktemp(f"bpy{request.param}")
    daemon = DaemonProcess(work / "daemon", blender_tiny_model)
    daemon.start()
    config = {
        **media,
        "zip": str(extension_zip),
        "work": str(work),
        "connection_file": str(daemon.connection_file),
        "num_steps": NUM_STEPS,
        "timeout_s": TIMEOUT_S,
    }
    try:
        run, observed = run_driver(python, work, config, 4 * TIMEOUT_S)
        job_ids = {name: observed.get(name, {}).get("job_id") for name in ("dub", "cancel")}
        observed["submitted"] = {
            name: daemon.submitted_otio(job_id) for name, job_id in job_ids.items() if job_id
        }
    finally:
        daemon.stop()
    observed["bpy"] = request.param
    observed["model"] = f"{blender_tiny_model.name} (TEST WEIGHTS)"
    observed["log"] = f"exit {run.returncode}\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    yield observed


def scenario(facts: dict[str, Any], name: str) -> dict[str, Any]:
    result = facts.get(name, {"crash": "the bpy process died before this scenario"})
    assert "crash" not in result, f"{name} crashed:\n{result['crash']}\n{facts['log']}"
    return result


def needs_sound_strips(facts: dict[str, Any]) -> None:
    """Skip a test about sound strips where Blender cannot make them."""
    if not scenario(facts, "install")["sound_strips"]:
        pytest.skip(f"bpy {facts['bpy']} from PyPI has no Audaspace: no sound strips")


def test_zip_installs_offline_and_registers(facts: dict[str, Any]) -> None:
    installed = scenario(facts, "install")
    assert installed["enabled"] and installed["operator"] and installed["zmq"]
    assert installed["menus"] == ["SEQUENCER_MT_strip", "SEQUENCER_MT_context_menu"]


def test_take_lands_above_the_original_over_the_same_frames(facts: dict[str, Any]) -> None:
    dub = scenario(facts, "dub")
    assert dub["submit_error"] == ""
    assert dub["state"] == "done", dub["message"]
    original, take = dub["original"], dub["take"]
    assert take is not None, dub
    assert take["type"] == "MOVIE" and take["name"] == "A001 take 1"
    assert take["channel"] == 4  # 2 is the original, 3 holds the blocker over these frames
    assert (take["frame_final_start"], take["frame_final_end"]) == (13, 50)
    assert (original["frame_final_start"], original["frame_final_end"]) == (13, 50)
    assert take["fps"] == pytest.approx(original["fps"])
    assert Path(take["filepath"]).name.endswith(f"-{dub['job_id']}.mp4")
    # beside the .blend, stored relative: the daemon's retention never touches it
    assert take["raw_filepath"] == f"//xdub_takes/{Path(take['filepath']).name}"
    frames = take["frame_final_end"] - take["frame_final_start"]
    assert Path(take["filepath"]).is_file() and dub["take_media_frames"] == frames
    assert original["mute"] is True and take["mute"] is False
    props = take["props"]
    assert props["xdub_job"] == dub["job_id"] and props["xdub_take"] == 1
    assert props["xdub_model"] == facts["model"] and props["xdub_source_strip"] == "A001"
    settings = json.loads(props["xdub_settings"])
    assert settings["num_steps"] == NUM_STEPS and settings["codec"] == "h264"
    assert settings["seed"] == 5 and settings["independent_noise"] is True
    assert settings["missing_face"] == "pass_through"
    assert dub["fractions"][-1] == 1.0 and len(dub["fractions"]) >= 2  # progress was shown


def test_take_sound_lands_above_the_take(facts: dict[str, Any]) -> None:
    needs_sound_strips(facts)
    dub = scenario(facts, "dub")
    (sound,) = dub["take_sounds"]
    assert sound["name"] == "A001 take 1 audio"
    assert sound["channel"] == 5  # the first channel above the take's (4) free over its frames
    assert (sound["frame_final_start"], sound["frame_final_end"]) == (13, 50)
    assert sound["filepath"] == dub["take"]["filepath"] and sound["mute"] is False
    assert sound["props"] == {"xdub_job": dub["job_id"]}


def test_take_without_audaspace_comes_without_its_sound_and_says_so(
    facts: dict[str, Any],
) -> None:
    if scenario(facts, "install")["sound_strips"]:
        pytest.skip(f"bpy {facts['bpy']} has Audaspace: its take sound is placed")
    dub = scenario(facts, "dub")
    assert dub["state"] == "done" and dub["take"] is not None
    assert dub["take_sounds"] == []
    assert "no take sound: this Blender is built without audio (Audaspace)" in dub["message"]


def test_submitted_job_is_the_scene_as_the_daemon_reads_it(facts: dict[str, Any]) -> None:
    from xdub.job.timeline import parse_job

    scenario(facts, "dub")
    job = parse_job(facts["submitted"]["dub"])
    assert (job.start_frame, job.num_frames, job.fps) == (3, 37, 25.0)
    assert job.host == "blender" and job.host_ids["strip"] == "A001"
    assert job.clip_name == "A001"  # the strip's name, not its file's (A001.mp4)


def test_selected_sound_strips_are_the_dialogue_gaps_kept(facts: dict[str, Any]) -> None:
    from xdub.job.timeline import parse_job

    needs_sound_strips(facts)
    scenario(facts, "dub")
    first, second = parse_job(facts["submitted"]["dub"]).dialogue.segments
    assert (first.offset_s, first.duration_s) == (0.0, pytest.approx(17 / 25))
    assert (second.offset_s, second.source_start_s) == (pytest.approx(22 / 25), 0.0)
    assert second.duration_s == pytest.approx(15 / 25)  # clipped at the picture's right handle


def test_picked_dialogue_file_plays_from_the_left_handle(
    facts: dict[str, Any], media: dict[str, str]
) -> None:
    """The cancel scenario picks the dialogue as a file (every version)."""
    from xdub.job.timeline import parse_job

    scenario(facts, "cancel")
    job = parse_job(facts["submitted"]["cancel"])
    (segment,) = job.dialogue.segments
    assert segment.path == Path(media["audio"])
    assert (segment.offset_s, segment.source_start_s) == (0.0, 0.0)
    assert segment.duration_s == pytest.approx(37 / 25)  # the picture's length


def test_cancel_stops_the_job_and_places_nothing(facts: dict[str, Any]) -> None:
    cancelled = scenario(facts, "cancel")
    assert cancelled["submit_error"] == ""
    assert cancelled["state"] == "cancelled", cancelled
    assert not cancelled["take_strip"]
    assert not any("take" in name for name in cancelled["strips"])


def test_the_draft_preset_and_fast_switches_are_chosen_in_the_dialog(facts: dict[str, Any]) -> None:
    drafted = scenario(facts, "draft")
    assert drafted["submit_error"] == ""
    assert json.loads(drafted["settings"])["preset"] == "draft"
    fast = json.loads(drafted["fast_settings"])
    assert (fast["preset"], fast["quality"], fast["fp8"]) == ("final", "fast", False)
    assert fast["step_cache_threshold"] == 0.0
    assert (fast["guidance_reuse_period"], fast["guidance_reuse_branch"]) == (2, "posi_r")
    defaults = json.loads(drafted["settings"])  # the switches left alone: the record's defaults
    assert (defaults["quality"], defaults["fp8"], defaults["step_cache_threshold"]) == (
        "exact",
        None,
        None,
    )
    assert defaults["guidance_reuse_period"] == 1
    dubbed = scenario(facts, "dub")  # the default stays final
    assert json.loads(dubbed["take"]["props"]["xdub_settings"])["preset"] == "final"


def test_refusals_say_what_to_do(facts: dict[str, Any]) -> None:
    refused = scenario(facts, "refusals")
    assert "daemon not running" in refused["daemon_down"]
    assert "is a file, not a folder for the take" in refused["takes_folder"]  # the precheck
    assert "Start xdub Daemon" in refused["daemon_down"]
    assert "25.000 fps but the scene is 24.000 fps" in refused["fps"]
    assert "image sequence" in refused["image"]
    assert "meta strip" in refused["meta"] and "Tab" in refused["meta"]
    assert "no selected sound strip" in refused["no_dialogue"]
    assert "plays reversed" in refused["reversed"] and "Reverse Frames" in refused["reversed"]
    assert "absent.wav' does not exist" in refused["missing_file"]


def test_speed_changes_are_refused_and_other_effects_warn(facts: dict[str, Any]) -> None:
    speed = scenario(facts, "speed")
    made = speed["retiming"]
    assert len(made["keys"]) >= 3, made  # Blender's own Retiming operators made the keys
    assert "'A001' has a speed change (retiming keys)" in speed["retimed"]
    assert "Reset Retiming" in speed["retimed"]
    assert "'A001' feeds the speed effect 'slow'" in speed["speed_effect"]
    assert "'A001' feeds the speed effect 'slow'" in speed["speed_after_effect"]  # through a blur
    assert speed["effect_warnings"] == ["effect 'blur' uses 'A001'; reconnect it to the take"]


def test_retimed_dialogue_strip_is_refused(facts: dict[str, Any]) -> None:
    needs_sound_strips(facts)
    speed = scenario(facts, "speed")
    assert speed["unreadable_retiming"] == []  # 4.5+ sound strips show their retiming keys
    made = speed["dialogue_retiming"]
    assert len(made["keys"]) >= 3, made
    assert "'line1' has a speed change (retiming keys)" in speed["retimed_dialogue"]


def test_undo_removes_the_take_and_redo_brings_it_back(facts: dict[str, Any]) -> None:
    """Placing the take is an undo step of Blender's own (memfile) undo, exercised headless."""
    undo = scenario(facts, "undo")
    placed, undone, redone = undo["placed"], undo["undone"], undo["redone"]
    dub = scenario(facts, "dub")
    take, sounds = dub["take_strip"], [sound["name"] for sound in dub["take_sounds"]]
    assert take in placed["strips"] and placed["original_mute"] is True
    assert undo["undo"] == ["FINISHED"]
    assert undone["take"] is None and take not in undone["strips"]
    assert undone["original_mute"] is False  # the original plays again
    assert sorted([*undone["strips"], take, *sounds]) == placed["strips"]  # nothing else changed
    assert undone["record"] == ["done", ""]  # the job stays done, with no take
    assert undo["polled"] == undone  # polling again does not place it back
    assert undo["redo"] == ["FINISHED"] and redone == placed


def test_disabling_joins_the_worker_thread(facts: dict[str, Any]) -> None:
    assert facts["worker_threads_after_disable"] == []

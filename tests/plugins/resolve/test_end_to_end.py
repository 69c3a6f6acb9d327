"""The installed menu scripts drive a fake Resolve against a real daemon with the tiny model.

Three editions: Studio 21.0.4 (Python script, pyzmq, UIManager window, selected clip), free 21.0.3
(Python script without pyzmq: the ``xdub bridge`` CLI, Console progress, clip under the
playhead) and free 21.1 (only Lua is listed: the Lua launcher serves Resolve to the Python
helper). Each must end with the take in the "XDub" bin, added to the item's Take Selector and
selected, the item tagged with the job id, and no Studio-only call made on free.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fake_resolve import FREE, STUDIO, FakeBmd, FakeWindow
from lua_binding import LuaResolve
from menu_scripts import editor, run_menu_script, whole_item_project
from resolve_scenario import (
    SOURCE_FPS,
    SOURCE_TC,
    WHOLE_FILE_FRAMES,
    Media,
    Project,
    make_project,
)

from xdub.client import DaemonClient

if TYPE_CHECKING:
    from conftest import DaemonProcess

pytestmark = pytest.mark.timeout(300)


def _assert_take_added_and_selected(
    project: Project, connection: Path, *, beside_media: bool = True
) -> str:
    """The take is the item's selected take; ``beside_media``: the plugin sent the job (its
    take is in "xdub takes" beside the clip's media, never only in the daemon's job folder)."""
    item = project.item
    assert item.GetTakesCount() == 2
    assert item.GetSelectedTakeIndex() == 2
    take = item.GetMediaPoolItem()
    path = take.GetClipProperty("File Path")
    assert Path(path).is_file()
    source = Path(project.item.GetTakeByIndex(1)["mediaPoolItem"].GetClipProperty("File Path"))
    if beside_media:
        assert Path(path).parent == source.parent / "xdub takes"  # never pruned with the job
    assert int(take.GetClipProperty("Frames")) == WHOLE_FILE_FRAMES
    pool = project.resolve.GetProjectManager().GetCurrentProject().GetMediaPool()
    (folder,) = [f for f in pool.GetRootFolder().GetSubFolderList() if f.GetName() == "XDub"]
    assert [clip.GetUniqueId() for clip in folder.GetClipList()] == [take.GetUniqueId()]
    assert pool.GetCurrentFolder() is pool.GetRootFolder()  # restored after the import
    (marker,) = item.GetMarkers().values()
    job_id = marker["customData"].removeprefix("xdub:")
    with DaemonClient(connection, client_name="test") as client:
        job = client.get(job_id)
    assert job.state.value == "done"
    assert job.options.num_steps == 1  # the plugin's settings file reached the daemon
    if beside_media:
        assert job.options.output_dir == str(Path(path).parent)
    assert project.app.limitation_dialogs == []
    assert project.app.absent_calls == []
    return job_id


def test_studio_dubs_the_selected_clip_with_a_progress_window(
    installed: Path, connection: Path, media: Media, capsys: pytest.CaptureFixture[str]
) -> None:
    project = whole_item_project(media, STUDIO, (21, 0, 4))
    project.timeline.select(project.item)
    project.timeline.SetCurrentTimecode("00:00:00:00")  # the selection decides, not the playhead
    bmd = FakeBmd(project.resolve, editor())
    printed = run_menu_script(installed, "XDub – Dub clip.py", project, bmd, capsys)
    assert any("as a take" in line for line in printed), printed
    assert any(line.startswith("XDub: final preset") for line in printed), printed
    asked, window = bmd.dispatcher.windows
    assert asked.props["ID"] == "xdub_preset" and not asked.visible
    assert window.props["WindowTitle"].startswith("XDub") and not window.visible
    assert window.GetItems()["status"].Text == "done"
    _assert_take_added_and_selected(project, connection)


def test_studio_asks_for_the_preset_before_submitting(
    installed: Path,
    connection: Path,
    daemon: DaemonProcess,
    media: Media,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The preset window preselects the settings file's preset (final); Draft there makes a
    draft job, and Cancel submits nothing."""
    project = whole_item_project(media, STUDIO, (21, 0, 4))
    project.timeline.select(project.item)
    bmd = FakeBmd(project.resolve, editor("draft"))
    printed = run_menu_script(installed, "XDub – Dub clip.py", project, bmd, capsys)
    assert any(line.startswith("XDub: draft preset") for line in printed), printed
    asked = bmd.dispatcher.windows[0]
    assert [entry.split(":")[0] for entry in asked.GetItems()["preset"].entries] == [
        "Final",
        "Draft",
    ]
    job_id = _assert_take_added_and_selected(project, connection)
    with DaemonClient(connection, client_name="test") as client:
        assert client.get(job_id).options.preset.value == "draft"
        jobs_before = len(client.list_jobs())

    def refuse(window: FakeWindow, turn: int) -> None:
        window.click("no")

    again = whole_item_project(media, STUDIO, (21, 0, 4))
    again.timeline.select(again.item)
    printed = run_menu_script(
        installed, "XDub – Dub clip.py", again, FakeBmd(again.resolve, refuse), capsys
    )
    assert printed[-1] == "XDub: cancelled: nothing was submitted"
    with DaemonClient(connection, client_name="test") as client:
        assert len(client.list_jobs()) == jobs_before


def test_studio_dubs_an_item_trimmed_inside_its_media(
    installed: Path,
    connection: Path,
    daemon: DaemonProcess,
    media: Media,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The item starts frames into its file and ends before it: the daemon dubs that range
    and the take holds the item's frames, its timecode moved by the left offset."""
    from xdub.job.timeline import parse_job
    from xdub.media.probe import probe
    from xdub.protocol.timecode import shift_timecode

    project = make_project(media, STUDIO, (21, 0, 4))
    item = project.item
    left_offset, num_frames = item.GetLeftOffset(), item.GetDuration()
    assert left_offset > 0 and left_offset + num_frames < WHOLE_FILE_FRAMES
    project.timeline.select(item)
    printed = run_menu_script(
        installed, "XDub – Dub clip.py", project, FakeBmd(project.resolve, editor()), capsys
    )
    assert any("as a take" in line for line in printed), printed
    assert (item.GetTakesCount(), item.GetSelectedTakeIndex()) == (2, 2)
    (marker,) = item.GetMarkers().values()
    job = parse_job(daemon.submitted_otio(marker["customData"].removeprefix("xdub:")))
    assert (job.start_frame, job.num_frames) == (left_offset, num_frames)
    take = probe(Path(item.GetMediaPoolItem().GetClipProperty("File Path")))
    assert take.num_frames == num_frames
    assert take.timecode == shift_timecode(SOURCE_TC, left_offset, SOURCE_FPS) != SOURCE_TC
    assert project.app.limitation_dialogs == [] and project.app.absent_calls == []


def test_studio_cancel_button_cancels_the_job(
    installed: Path, connection: Path, media: Media, capsys: pytest.CaptureFixture[str]
) -> None:
    project = whole_item_project(media, STUDIO, (21, 0, 4))
    project.timeline.select(project.item)

    printed = run_menu_script(
        installed,
        "XDub – Dub clip.py",
        project,
        FakeBmd(project.resolve, editor(cancel=True)),
        capsys,
    )
    assert any("cancelled" in line for line in printed), printed
    assert project.item.GetTakesCount() == 0
    assert project.app.limitation_dialogs == []


def test_free_21_0_without_pyzmq_uses_the_cli_bridge_and_the_console(
    installed: Path,
    connection: Path,
    media: Media,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "zmq", None)  # Resolve's Python has no pyzmq
    project = whole_item_project(media, FREE, (21, 0, 3))
    printed = run_menu_script(
        installed, "XDub – Dub clip.py", project, FakeBmd(project.resolve), capsys
    )
    assert any("progress also in the tray app" in line for line in printed), printed
    assert any("as a take" in line for line in printed), printed
    _assert_take_added_and_selected(project, connection)


def test_free_21_1_runs_through_the_lua_launcher(
    installed: Path, connection: Path, media: Media, capsys: pytest.CaptureFixture[str]
) -> None:
    project = whole_item_project(media, FREE, (21, 1, 0))
    lua = LuaResolve(project.resolve)
    lua.run_script(installed / "Scripts" / "Edit" / "XDub – Dub clip (Lua).lua")
    assert any("as a take" in line for line in lua.printed), lua.printed
    _assert_take_added_and_selected(project, connection)


def test_collect_places_takes_that_finished_after_the_script_closed(
    installed: Path, connection: Path, media: Media, capsys: pytest.CaptureFixture[str]
) -> None:
    from xdub_resolve.dub_clip import gather_job
    from xdub_resolve.host import ResolveTimeline
    from xdub_resolve.job import build_job

    from xdub.protocol.otio_json import job_to_json
    from xdub.protocol.records import Codec, DubOptions

    project = whole_item_project(media, FREE, (21, 0, 3))
    otio = job_to_json(build_job(gather_job(ResolveTimeline(project.resolve), project.item, 2)))
    with DaemonClient(connection, client_name="test", timeout_s=20.0) as client:
        job_id = client.submit(otio, DubOptions(codec=Codec.H264, num_steps=1, seed=1)).job_id
        client.wait(job_id, timeout_s=240.0)
    printed = run_menu_script(installed, "XDub – Collect finished takes.py", project, None, capsys)
    assert any(job_id in line and "take placed" in line for line in printed), printed
    assert _assert_take_added_and_selected(project, connection, beside_media=False) == job_id
    again = run_menu_script(installed, "XDub – Collect finished takes.py", project, None, capsys)
    assert again[-1] == "XDub: 0 finished take(s) collected"  # idempotent
    assert project.item.GetTakesCount() == 2


def test_bridge_relays_requests_and_reports_bad_lines(connection: Path) -> None:
    command = [sys.executable, "-m", "xdub", "bridge", "--connection-file", str(connection)]
    lines = "not json\n" + json.dumps({"id": 7, "msg_type": "get", "content": {"job_id": "nope"}})
    done = subprocess.run(command, input=lines + "\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    ready, bad, reply = (
        json.loads(line) for line in done.stdout.splitlines() if "event" not in line
    )
    assert ready["ready"] is True and ready["daemon"]["models_ready"] is True
    assert bad["id"] is None and bad["content"]["error"]["code"] == "bad_content"
    assert reply["id"] == 7 and reply["msg_type"] == "get_reply"
    assert reply["content"]["error"]["code"] == "unknown_job"


def test_bridge_says_when_no_daemon_runs(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "xdub", "bridge", "--connection-file", str(tmp_path / "none")]
    done = subprocess.run(command, input="", capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    (line,) = done.stdout.splitlines()
    assert json.loads(line) == {
        "ready": False,
        "error": {
            "code": "daemon_not_running",
            "message": f"daemon not running: no connection file at {tmp_path / 'none'}",
            "hint": "start it with `xdub daemon start` (or from the xdub tray app)",
        },
    }

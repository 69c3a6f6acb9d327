"""The job table and the tray status, fed with real protocol records (no daemon, no screen)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pytestqt.qtbot import QtBot

from xdub.protocol.messages import JobStateEvent, ProgressEvent
from xdub.protocol.records import (
    DubOptions,
    ErrorInfo,
    JobInfo,
    JobState,
    Preset,
    Progress,
    Stage,
)
from xdub_gui.jobs_model import FRACTION_ROLE, HEADERS, Column, JobTableModel, format_eta
from xdub_gui.status import TrayState, daemon_status, status_icon


def _job(job_id: str, created_at: str, state: JobState = JobState.QUEUED) -> JobInfo:
    """A job as a 1.0 daemon reports it: a timeline name, no clip name."""
    return JobInfo(job_id, f"scene {job_id}", state, created_at, created_at, DubOptions())


def _result_otio(tmp_path: Path, video_name: str) -> str:
    """A real result timeline whose source clip is named ``video_name``."""
    from opentimelineio.opentime import RationalTime, TimeRange

    from xdub.job.result import build_result
    from xdub.job.timeline import DialogueClip, SourceClip, build_job, job_to_json, parse_job

    used = TimeRange(RationalTime(0, 25), RationalTime(25, 25))
    source = SourceClip(tmp_path / video_name, used)
    line = DialogueClip(tmp_path / "line.wav", used, offset=RationalTime(0, 25))
    job = parse_job(job_to_json(build_job(source, [line], name="S", host="cli")), check_files=False)
    result = build_result(job, tmp_path / "take.mov", job_id="j", model="tiny", settings={})
    return job_to_json(result)


def _progress(fraction: float, eta_s: float | None = 12.0) -> Progress:
    return Progress(Stage.DENOISE, 1, 2, 3, 4, fraction, eta_s)


def test_list_is_shown_newest_first() -> None:
    model = JobTableModel()
    model.reset_jobs([_job("a", "2026-01-01T10:00:00Z"), _job("b", "2026-01-01T11:00:00Z")])
    assert [row.job_id for row in model.rows()] == ["b", "a"]
    assert model.data(model.index(0, Column.CLIP)) == "scene b"
    assert model.data(model.index(0, Column.STATE)) == "queued"


def test_progress_event_moves_the_bar_stage_and_eta() -> None:
    model = JobTableModel()
    model.reset_jobs([_job("a", "2026-01-01T10:00:00Z")])
    model.apply_event(ProgressEvent("a", _progress(0.25, eta_s=75.0)))
    row = model.find("a")
    assert row is not None and row.state is JobState.RUNNING
    assert model.data(model.index(0, Column.PROGRESS), FRACTION_ROLE) == 0.25
    assert model.data(model.index(0, Column.STAGE)) == "denoise · clip 1/2 · step 3/4"
    assert model.data(model.index(0, Column.ETA)) == "1m 15s"


def test_state_events_signal_ready_and_failed_takes(qtbot: QtBot) -> None:
    model = JobTableModel()
    model.reset_jobs(
        [_job("a", "2026-01-01T10:00:00Z"), _job("b", "2026-01-01T11:00:00Z", JobState.RUNNING)]
    )
    error = ErrorInfo("no_face", "no face in frames 0-25", "pick the speaker")
    with qtbot.waitSignal(model.job_failed) as failed:
        model.apply_event(JobStateEvent("b", JobState.FAILED, JobState.RUNNING, error=error))
    assert failed.args[0].error == error
    failed_row = model.find("b")
    assert failed_row is not None and failed_row.can_retry
    assert "no_face" in failed_row.error_details()
    with qtbot.waitSignal(model.unknown_job) as unknown:
        model.apply_event(ProgressEvent("zz", _progress(0.5)))
    assert unknown.args == ["zz"]


def test_host_of_the_job_info_is_shown_while_queued_and_running() -> None:
    model = JobTableModel()
    with_host = dataclasses.replace(_job("a", "2026-01-01T10:00:00Z"), host="resolve")
    model.reset_jobs([with_host, _job("b", "2026-01-01T11:00:00Z")])
    assert model.data(model.index(1, Column.HOST)) == "resolve"
    assert model.data(model.index(0, Column.HOST)) == "—"  # a daemon that does not say
    model.apply_event(JobStateEvent("a", JobState.RUNNING, JobState.QUEUED))
    model.apply_event(ProgressEvent("a", _progress(0.5)))
    row = model.find("a")
    assert row is not None and row.state is JobState.RUNNING and row.host == "resolve"
    assert model.data(model.index(1, Column.HOST)) == "resolve"


def test_clip_column_shows_the_clip_name_or_else_the_job_name() -> None:
    model = JobTableModel()
    with_clip = dataclasses.replace(_job("a", "2026-01-01T10:00:00Z"), clip="A012_C004.mov")
    model.reset_jobs([with_clip, _job("b", "2026-01-01T11:00:00Z")])
    assert model.data(model.index(1, Column.CLIP)) == "A012_C004.mov"
    assert model.data(model.index(0, Column.CLIP)) == "scene b"  # a 1.0 daemon's job
    model.apply_event(JobStateEvent("a", JobState.RUNNING, JobState.QUEUED))
    model.apply_event(ProgressEvent("a", _progress(0.5)))
    assert model.data(model.index(1, Column.CLIP)) == "A012_C004.mov"
    row = model.find("a")
    assert row is not None and "timeline: scene a" in row.error_details()


def test_a_done_job_without_a_clip_name_takes_it_from_its_result(tmp_path: Path) -> None:
    model = JobTableModel()
    result = _result_otio(tmp_path, "B007_C012.mov")
    old = dataclasses.replace(_job("a", "2026-01-01T10:00:00Z", JobState.DONE), result_otio=result)
    new = dataclasses.replace(
        _job("b", "2026-01-01T11:00:00Z", JobState.DONE), result_otio=result, clip="Ana close-up"
    )
    model.reset_jobs([old, new])
    assert model.data(model.index(1, Column.CLIP)) == "B007_C012.mov"  # a 1.0 daemon's job
    assert model.data(model.index(0, Column.CLIP)) == "Ana close-up"  # JobInfo.clip comes first


def test_format_eta() -> None:
    assert format_eta(None) == ""
    assert format_eta(9.4) == "9s"
    assert format_eta(3725.0) == "1h 02m"


def test_tray_status_follows_the_daemon_and_the_jobs(qtbot: QtBot, tmp_path: Path) -> None:
    model = JobTableModel()
    model.reset_jobs([_job("a", "2026-01-01T10:00:00Z")])
    assert daemon_status(is_connected=False, rows=model.rows()).state is TrayState.STOPPED
    assert daemon_status(is_connected=True, rows=[]).state is TrayState.IDLE
    model.apply_event(ProgressEvent("a", _progress(0.4)))
    working = daemon_status(is_connected=True, rows=model.rows())
    assert working.state is TrayState.WORKING and working.fraction == 0.4
    assert "40%" in working.text
    icon = status_icon(working)
    image = icon.pixmap(32, 32).toImage()
    assert not icon.isNull() and image.pixelColor(16, 16).alpha() > 0


def test_only_a_done_draft_offers_make_final() -> None:
    model = JobTableModel()
    draft = dataclasses.replace(
        _job("d", "2026-01-01T10:00:00Z", JobState.RUNNING), options=DubOptions(preset=Preset.DRAFT)
    )
    model.reset_jobs([draft, _job("f", "2026-01-01T11:00:00Z", JobState.DONE)])
    running_draft, done_final = model.find("d"), model.find("f")
    assert running_draft is not None and running_draft.is_draft
    assert not running_draft.can_make_final
    assert done_final is not None and not done_final.can_make_final
    model.apply_event(JobStateEvent("d", JobState.DONE, JobState.RUNNING, result_otio="{}"))
    done_draft = model.find("d")
    assert done_draft is not None and done_draft.can_make_final


def test_both_tables_name_their_columns(qtbot: QtBot) -> None:
    """The job and model tables share ``RowTableModel``: counts and headers per table."""
    from PySide6.QtCore import QModelIndex, Qt

    from xdub_gui.models_model import MODEL_HEADERS, ModelTableModel

    horizontal, display = Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole
    for table, headers in ((JobTableModel(), HEADERS), (ModelTableModel(), MODEL_HEADERS)):
        count = table.columnCount()
        assert [table.headerData(c, horizontal, display) for c in range(count)] == list(
            headers.values()
        )
        assert table.headerData(0, Qt.Orientation.Vertical, display) is None
        assert table.rowCount(QModelIndex()) == 0

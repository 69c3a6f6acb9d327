"""The job table and the tray status, fed with real protocol records (no daemon, no screen)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pytestqt.qtbot import QtBot

from xdub.protocol.messages import JobStateEvent, ProgressEvent
from xdub.protocol.records import ErrorInfo, JobInfo, JobOptions, JobState, Progress, Stage
from xdub_gui.jobs_model import FRACTION_ROLE, Column, JobTableModel, format_eta
from xdub_gui.status import TrayState, daemon_status, status_icon


def _job(job_id: str, created_at: str, state: JobState = JobState.QUEUED) -> JobInfo:
    return JobInfo(job_id, f"clip {job_id}", state, created_at, created_at, JobOptions())


def _progress(fraction: float, eta_s: float | None = 12.0) -> Progress:
    return Progress(Stage.DENOISE, 1, 2, 3, 4, fraction, eta_s)


def test_list_is_shown_newest_first() -> None:
    model = JobTableModel()
    model.reset_jobs([_job("a", "2026-01-01T10:00:00Z"), _job("b", "2026-01-01T11:00:00Z")])
    assert [row.job_id for row in model.rows()] == ["b", "a"]
    assert model.data(model.index(0, Column.CLIP)) == "clip b"
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

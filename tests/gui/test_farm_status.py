"""The tray on a Ray farm (``--backend ray``): which actor runs a job and how many actors are
alive, from real protocol records (``JobInfo.runner``, ``worker_health.actors_alive``)."""

from __future__ import annotations

import dataclasses

from pytestqt.qtbot import QtBot

from xdub.protocol.messages import JobStateEvent
from xdub.protocol.records import DubOptions, JobInfo, JobState, Progress, Stage
from xdub_gui.jobs_model import Column, JobTableModel
from xdub_gui.status import TrayState, daemon_status

STAMP = "2026-01-01T10:00:00Z"


def _job(job_id: str, state: JobState, runner: str | None = None) -> JobInfo:
    info = JobInfo(job_id, f"scene {job_id}", state, STAMP, STAMP, DubOptions())
    return dataclasses.replace(info, runner=runner)


def test_the_tray_says_which_actor_runs_the_job_and_how_many_are_alive(qtbot: QtBot) -> None:
    model = JobTableModel()
    model.reset_jobs([_job("a", JobState.QUEUED)])
    with qtbot.waitSignal(model.started) as started:  # the controller asks ``get`` then
        model.apply_event(JobStateEvent("a", JobState.RUNNING, JobState.QUEUED))
    assert started.args[0].job_id == "a"
    model.upsert(_job("a", JobState.RUNNING, runner="actor-1@gpu-box"))
    status = daemon_status(is_connected=True, rows=model.rows(), actors_alive=2)
    assert status.state is TrayState.WORKING
    assert status.text == "xdub: dubbing scene a 0% on actor-1@gpu-box [2 actors]"

    model.apply_event(JobStateEvent("a", JobState.CANCELLED, JobState.RUNNING))
    assert model.find("a").runner is None  # type: ignore[union-attr]
    assert daemon_status(is_connected=True, rows=model.rows(), actors_alive=2).text == (
        "xdub: idle [2 actors]"
    )


def test_a_local_worker_shows_no_actors() -> None:
    model = JobTableModel()
    model.reset_jobs([_job("a", JobState.RUNNING)])
    text = daemon_status(is_connected=True, rows=model.rows()).text
    assert text == "xdub: dubbing scene a 0%"


def test_the_queue_table_names_the_actor_of_a_running_job() -> None:
    model = JobTableModel()
    running = dataclasses.replace(
        _job("a", JobState.RUNNING, runner="actor-0@gpu-box"),
        progress=Progress(Stage.DENOISE, clip=2, num_clips=4, step=0, num_steps=0, fraction=0.5),
    )
    model.reset_jobs([running, _job("b", JobState.QUEUED)])
    stages = {
        row.job_id: model.data(model.index(i, Column.STAGE)) for i, row in enumerate(model.rows())
    }
    assert stages == {"a": "denoise · clip 2/4 · on actor-0@gpu-box", "b": ""}

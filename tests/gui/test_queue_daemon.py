"""The queue window against a REAL daemon running the tiny model (offscreen Qt).

A job submitted by another client appears, progresses, finishes and can be revealed; cancel
and retry from the window work; a daemon killed with SIGKILL and started again is followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from xdub.protocol.records import Codec, DubOptions, JobState
from xdub_gui.bridge import ClientBridge
from xdub_gui.jobs_model import JobRow
from xdub_gui.queue_controller import QueueController
from xdub_gui.queue_view import QueueView
from xdub_gui.status import TrayState

from .conftest import Clip, GuiDaemon

TAKE_TIMEOUT_MS = 180_000
"""A one-second tiny take renders in seconds on an idle CPU, but a shared 2-core box can be
several times slower; waitUntil returns as soon as the state arrives."""
FAST = DubOptions(codec=Codec.H264, num_steps=1, seed=7)
SLOW = DubOptions(codec=Codec.H264, num_steps=6, seed=7)
"""Six steps keep the job running long enough to cancel it mid-way (cancel lands within one)."""


class Window:
    """A bridge, a controller and the queue view, with the reveal commands it ran."""

    def __init__(self, daemon: GuiDaemon, qtbot: QtBot) -> None:
        self.revealed: list[list[str]] = []
        self.bridge: ClientBridge = daemon.bridge()
        self.controller = QueueController(self.bridge)
        self.view = QueueView(self.controller, opener=self.revealed.append)
        qtbot.addWidget(self.view)
        self.notes: list[tuple[str, str]] = []
        self.controller.notify.connect(lambda title, text: self.notes.append((title, text)))
        self.fractions: list[float] = []
        self.controller.jobs.dataChanged.connect(self._record)
        self.bridge.start()
        qtbot.waitUntil(lambda: self.bridge.is_connected, timeout=10_000)

    def _record(self, *_: object) -> None:
        self.fractions.extend(row.fraction for row in self.controller.jobs.rows())

    def row(self, job_id: str) -> JobRow | None:
        return self.controller.jobs.find(job_id)

    def state(self, job_id: str) -> JobState | None:
        row = self.row(job_id)
        return None if row is None else row.state


@pytest.fixture
def window(gui_daemon: GuiDaemon, qtbot: QtBot) -> Iterator[Window]:
    opened = Window(gui_daemon, qtbot)
    yield opened
    opened.bridge.stop()


def test_submitted_job_appears_progresses_finishes_and_is_revealed(
    gui_daemon: GuiDaemon, window: Window, short_clip: Clip, qtbot: QtBot
) -> None:
    with gui_daemon.client() as client:
        job_id = client.submit(short_clip.otio, FAST).job_id
    qtbot.waitUntil(lambda: window.row(job_id) is not None, timeout=10_000)
    qtbot.waitUntil(lambda: window.state(job_id) is JobState.DONE, timeout=TAKE_TIMEOUT_MS)
    assert any(0.0 < fraction < 1.0 for fraction in window.fractions), "no live progress seen"
    row = window.row(job_id)
    assert row is not None and row.host == "cli" and row.clip_name
    assert window.notes and window.notes[-1][0] == "Take ready"
    window.view.select_job(job_id)
    assert window.view.reveal_button.isEnabled()
    command = window.view.reveal_selected()
    assert command is not None and window.revealed == [command]
    assert any(Path(part).exists() for part in command[1:])
    assert window.controller.status.state is TrayState.IDLE


def test_cancel_then_retry_from_the_window(
    gui_daemon: GuiDaemon, window: Window, short_clip: Clip, qtbot: QtBot
) -> None:
    with gui_daemon.client() as client:
        job_id = client.submit(short_clip.otio, SLOW).job_id
    qtbot.waitUntil(lambda: window.state(job_id) is JobState.RUNNING, timeout=TAKE_TIMEOUT_MS)
    assert window.controller.status.state is TrayState.WORKING
    window.view.select_job(job_id)
    assert window.view.cancel_button.isEnabled() and not window.view.retry_button.isEnabled()
    window.view.cancel_selected()
    qtbot.waitUntil(lambda: window.state(job_id) is JobState.CANCELLED, timeout=30_000)
    qtbot.waitUntil(window.view.retry_button.isEnabled, timeout=5_000)
    window.view.retry_selected()
    qtbot.waitUntil(lambda: window.state(job_id) is JobState.DONE, timeout=TAKE_TIMEOUT_MS)
    with gui_daemon.client() as client:
        assert client.get(job_id).state is JobState.DONE


def test_daemon_restart_is_survived(
    gui_daemon: GuiDaemon, window: Window, short_clip: Clip, qtbot: QtBot
) -> None:
    with gui_daemon.client() as client:
        first = client.submit(short_clip.otio, FAST).job_id
    qtbot.waitUntil(lambda: window.state(first) is JobState.DONE, timeout=TAKE_TIMEOUT_MS)
    gui_daemon.kill9()
    qtbot.waitUntil(lambda: not window.bridge.is_connected, timeout=10_000)
    assert window.controller.status.state is TrayState.STOPPED
    gui_daemon.start()
    qtbot.waitUntil(lambda: window.bridge.is_connected, timeout=20_000)
    with gui_daemon.client() as client:
        second = client.submit(short_clip.otio, FAST).job_id
    qtbot.waitUntil(lambda: window.state(second) is JobState.DONE, timeout=TAKE_TIMEOUT_MS)
    assert window.state(first) is JobState.DONE  # the history survived the restart

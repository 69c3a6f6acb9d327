"""Waiting for a job: a UIManager window with Cancel on Studio, the Console on free.

Stdlib-only. A menu script is a child process of Resolve, so it blocks here until the job ends
(its threads would die if it returned) while Resolve itself stays responsive. ``JobWatcher``
follows one job through the client's ``watch`` (events, periodic re-reads, reconnects); the
views call its ``step`` until it reports the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xdub_resolve.xdub_protocol.client import DaemonClient
from xdub_resolve.xdub_protocol.records import ErrorInfo, JobInfo, Progress

POLL_INTERVAL_MS = 300
WINDOW_EVENT_WAIT_S = 0.05
"""How long a window tick waits for events: short, so the window stays responsive."""


class JobWatcher:
    """The state of one job as the daemon reports it (``DaemonClient.watch``)."""

    def __init__(self, client: DaemonClient, job_id: str) -> None:
        self.client = client
        self.job_id = job_id
        self.state = "queued"
        self.job: JobInfo | None = None
        self.progress: Progress | None = None
        self.error: ErrorInfo | None = None
        self.result_otio: str | None = None
        self._watch = client.watch([job_id])
        self._cancel_sent = False

    @property
    def is_finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def step(self, timeout_s: float) -> bool:
        """Take in what happened within ``timeout_s``; ``True`` once the job has ended."""
        for update in self._watch.poll(timeout_s):
            self.job = update.job or self.job
            self.progress = update.progress or self.progress
            self.result_otio = update.result_otio or self.result_otio
            self.error = update.error or self.error
            if update.state is not None:
                self.state = update.state.value
            elif update.error is not None:
                self.state = "failed"  # the daemon does not know the job
        return self.is_finished

    def cancel(self) -> None:
        if not self._cancel_sent and not self.is_finished:
            self._cancel_sent = True
            self.client.cancel(self.job_id)

    def status_text(self) -> str:
        if self.state == "failed":
            error = self.error
            return f"failed: {error.message} {error.hint or ''}".strip() if error else "failed"
        progress = self.progress
        if progress is not None and self.state == "running":
            text = f"{progress.stage.value} {progress.fraction * 100:.0f} %"
            if progress.num_clips:
                text += f", window {progress.clip}/{progress.num_clips}"
            return text + (f", {progress.eta_s:.0f} s left" if progress.eta_s is not None else "")
        return self.state


class ConsoleView:
    """Progress printed to Workspace > Console (free Resolve has no script GUI)."""

    def __init__(self, write: Callable[[str], None] = print) -> None:
        self.write = write

    def wait(self, watcher: JobWatcher, title: str) -> None:
        self.write(f"XDub: {title}: job {watcher.job_id} submitted; progress also in the tray app")
        shown = ""
        while not watcher.step(POLL_INTERVAL_MS / 1000):
            text = watcher.status_text()
            if text != shown:
                self.write(f"XDub: {text}")
                shown = text
        self.write(f"XDub: {watcher.status_text()}")


class WindowView:
    """A small UIManager window with a status label and Cancel (Studio, or free before 19.1).

    ``ui`` is ``fusion.UIManager`` and ``dispatcher`` is ``bmd.UIDispatcher(ui)``; the caller
    reads them only once the edition allows it.
    """

    def __init__(self, ui: Any, dispatcher: Any) -> None:
        self.ui = ui
        self.dispatcher = dispatcher

    def wait(self, watcher: JobWatcher, title: str) -> None:
        ui, dispatcher = self.ui, self.dispatcher
        window = dispatcher.AddWindow(
            {"ID": "xdub", "WindowTitle": f"XDub - {title}", "Geometry": [100, 100, 420, 140]},
            ui.VGroup(
                [
                    ui.Label({"ID": "status", "Text": f"job {watcher.job_id}: queued"}),
                    ui.Button({"ID": "cancel", "Text": "Cancel"}),
                ]
            ),
        )
        items = window.GetItems()
        timer = ui.Timer({"ID": "poll", "Interval": POLL_INTERVAL_MS})

        def on_poll(event: Any) -> None:
            if watcher.step(WINDOW_EVENT_WAIT_S):
                dispatcher.ExitLoop()
            items["status"].Text = watcher.status_text()

        def on_cancel(event: Any) -> None:
            items["status"].Text = "cancelling..."
            watcher.cancel()

        dispatcher.On.Timeout = on_poll
        window.On.cancel.Clicked = on_cancel
        window.On.xdub.Close = on_cancel
        window.Show()
        timer.Start()
        try:
            dispatcher.RunLoop()
        finally:
            timer.Stop()
            window.Hide()

"""Waiting for a job: a UIManager window with Cancel on Studio, the Console on free.

Stdlib-only. A menu script is a child process of Resolve, so it blocks here until the job ends
(its threads would die if it returned) while Resolve itself stays responsive. ``JobWatcher``
follows one job from events and periodic ``get``s (a SUB socket misses events sent before it
joined); the views call its ``step`` until it reports the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from xdub_resolve.link import DaemonLink

TERMINAL_STATES = ("done", "failed", "cancelled")
RESYNC_S = 2.0
POLL_INTERVAL_MS = 300
WINDOW_EVENT_WAIT_S = 0.05
"""How long a window tick waits for events: short, so the window stays responsive."""


class JobWatcher:
    """The state of one job as the daemon reports it."""

    def __init__(self, link: DaemonLink, job_id: str) -> None:
        self.link = link
        self.job_id = job_id
        self.state = "queued"
        self.job: dict[str, Any] = {}
        self.progress: dict[str, Any] | None = None
        self._last_get = float("-inf")
        self._cancel_sent = False

    @property
    def is_finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def step(self, timeout_s: float) -> bool:
        """Take in events for up to ``timeout_s``; resync with ``get`` now and then."""
        for msg_type, content in self.link.events(timeout_s):
            if content.get("job_id") != self.job_id:
                continue
            if msg_type == "progress":
                self.progress = content.get("progress")
            elif msg_type == "job_state":
                self.state = str(content["state"])
        if self.is_finished or time.monotonic() - self._last_get > RESYNC_S:
            self.job = self.link.call("get", {"job_id": self.job_id})["job"]
            self.state = str(self.job["state"])
            self.progress = self.job.get("progress") or self.progress
            self._last_get = time.monotonic()
        return self.is_finished

    def cancel(self) -> None:
        if not self._cancel_sent and not self.is_finished:
            self._cancel_sent = True
            self.link.call("cancel", {"job_id": self.job_id})

    def status_text(self) -> str:
        if self.state == "failed":
            error = self.job.get("error") or {}
            return f"failed: {error.get('message', '')} {error.get('hint') or ''}".strip()
        if self.progress and self.state == "running":
            clip = self.progress.get("clip", 0)
            num_clips = self.progress.get("num_clips", 0)
            eta = self.progress.get("eta_s")
            text = f"{self.progress.get('stage')} {self.progress.get('fraction', 0.0) * 100:.0f} %"
            if num_clips:
                text += f", window {clip}/{num_clips}"
            return text + (f", {eta:.0f} s left" if eta is not None else "")
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

"""What the tray icon says: the daemon stopped, idle, working (with %), or in error.

``daemon_status`` is a pure function of what the bridge and the job table know; ``status_icon``
draws the icon for it (a filled disc, coloured by state, with a progress arc while working), so
no image files ship with the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap

from xdub.protocol.records import JobState, WorkerState
from xdub_gui.jobs_model import JobRow


class TrayState(str, Enum):
    STOPPED = "stopped"
    IDLE = "idle"
    WORKING = "working"
    ERROR = "error"


@dataclass(frozen=True)
class DaemonStatus:
    """The tray's one-glance state; ``fraction`` is the running job's progress while working."""

    state: TrayState
    text: str
    fraction: float = 0.0


def daemon_status(
    *,
    is_connected: bool,
    rows: Sequence[JobRow],
    worker_state: WorkerState | None = None,
    last_error: str | None = None,
    actors_alive: int | None = None,
) -> DaemonStatus:
    """The status the tray shows, from the connection, the jobs and the worker's health;
    on a Ray farm (``actors_alive`` given) also the actors alive and each job's actor."""
    if not is_connected:
        return DaemonStatus(TrayState.STOPPED, "xdub daemon stopped")
    if worker_state is WorkerState.CRASHED:
        return DaemonStatus(TrayState.ERROR, f"xdub worker crashed: {last_error or 'see log'}")
    farm = f" [{actors_alive} actors]" if actors_alive is not None else ""
    running = [row for row in rows if row.state is JobState.RUNNING]
    queued = sum(1 for row in rows if row.state is JobState.QUEUED)
    if running:
        fraction = running[0].fraction
        where = f" on {running[0].runner}" if running[0].runner else ""
        more = f", {len(running) - 1} more running" if len(running) > 1 else ""
        more += f", {queued} queued" if queued else ""
        text = f"xdub: dubbing {running[0].title} {fraction:.0%}{where}{more}{farm}"
        return DaemonStatus(TrayState.WORKING, text, fraction)
    if queued:
        return DaemonStatus(TrayState.WORKING, f"xdub: {queued} queued{farm}")
    return DaemonStatus(TrayState.IDLE, f"xdub: idle{farm}")


COLOURS = {
    TrayState.STOPPED: QColor(128, 128, 128),
    TrayState.IDLE: QColor(46, 160, 67),
    TrayState.WORKING: QColor(31, 111, 235),
    TrayState.ERROR: QColor(218, 54, 51),
}


def status_icon(status: DaemonStatus, size_px: int = 64) -> QIcon:
    """A disc in the state's colour; while working, a white arc shows the fraction done."""
    pixmap = QPixmap(size_px, size_px)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    margin = size_px * 0.06
    disc = QRectF(margin, margin, size_px - 2 * margin, size_px - 2 * margin)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(COLOURS[status.state])
    painter.drawEllipse(disc)
    if status.state is TrayState.WORKING:
        pen = QPen(QColor("white"), size_px * 0.12)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        inset = size_px * 0.2
        arc = disc.adjusted(inset, inset, -inset, -inset)
        span = max(1, int(360 * 16 * status.fraction))
        painter.drawArc(arc, 90 * 16, -span)
    painter.end()
    return QIcon(pixmap)

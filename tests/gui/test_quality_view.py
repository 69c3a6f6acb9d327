"""The job detail's quality panel (offscreen Qt): the numbers, and the warning before a
flagged take is placed; against protocol records and against a real daemon's take."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from xdub.protocol.messages import JobStateEvent
from xdub.protocol.records import (
    PSNR_IDENTICAL_DB,
    Codec,
    DubOptions,
    JobInfo,
    JobState,
    TakeQuality,
)
from xdub_gui.bridge import ClientBridge
from xdub_gui.quality_view import quality_summary, quality_warning
from xdub_gui.queue_controller import QueueController
from xdub_gui.queue_view import QueueView

from .conftest import Clip, GuiDaemon

FLAGGED = TakeQuality(
    is_available=True,
    sync_offset_frames=2,
    sync_confidence=0.9,
    sync_is_reliable=True,
    psnr_db=27.5,
    ssim=0.91,
    flicker=0.4,
    seam_psnr_drop_db=1.2,
    flags=("lips off by +2 frames", "outside-mouth PSNR 27.5 dB"),
)
CLEAN = TakeQuality(
    is_available=True,
    sync_offset_frames=0,
    sync_confidence=0.95,
    sync_is_reliable=True,
    psnr_db=PSNR_IDENTICAL_DB,
    ssim=1.0,
    flicker=0.0,
)


def _done(job_id: str, quality: TakeQuality | None) -> JobInfo:
    at = "2026-03-14T09:26:53Z"
    return JobInfo(job_id, "Scene 12", JobState.DONE, at, at, DubOptions(), quality=quality)


def _view(qtbot: QtBot, *jobs: JobInfo) -> QueueView:
    controller = QueueController(ClientBridge(lambda: None))  # type: ignore[arg-type,return-value]
    controller.jobs.reset_jobs(jobs)
    view = QueueView(controller)
    qtbot.addWidget(view)
    view.show()
    return view


def test_a_flagged_take_shows_its_numbers_and_a_warning(qtbot: QtBot) -> None:
    view = _view(qtbot, _done("flagged", FLAGGED), _done("clean", CLEAN))
    view.select_job("flagged")
    panel = view.quality_panel
    assert "sync +2 frames" in panel.summary_label.text()
    assert "PSNR 27.5 dB" in panel.summary_label.text()
    assert panel.is_flagged
    assert panel.warning_label.text() == (
        "Check the take before placing it: lips off by +2 frames; outside-mouth PSNR 27.5 dB"
    )
    view.select_job("clean")
    assert "PSNR identical" in panel.summary_label.text() and not panel.is_flagged


def test_a_new_state_event_keeps_or_drops_the_quality(qtbot: QtBot) -> None:
    view = _view(qtbot, _done("job", FLAGGED))
    view.select_job("job")
    jobs = view.controller.jobs
    jobs.apply_event(JobStateEvent("job", JobState.DONE, result_otio="{}"))
    assert jobs.find("job").quality == FLAGGED  # type: ignore[union-attr]
    jobs.apply_event(JobStateEvent("job", JobState.QUEUED))  # a retry: the old check is gone
    assert jobs.find("job").quality is None  # type: ignore[union-attr]
    assert not view.quality_panel.is_flagged and view.quality_panel.summary_label.text() == ""


def test_unavailable_and_unmeasured_checks_say_so() -> None:
    failed = TakeQuality(is_available=False, note="quality check failed: OSError: gone")
    assert (
        quality_summary(failed) == "Quality check unavailable: quality check failed: OSError: gone"
    )
    assert quality_warning(failed) is None and quality_warning(None) is None


def test_a_real_take_gets_its_quality_in_the_job_detail(
    gui_daemon: GuiDaemon, short_clip: Clip, qtbot: QtBot
) -> None:
    bridge = gui_daemon.bridge()
    controller = QueueController(bridge)
    view = QueueView(controller)
    qtbot.addWidget(view)
    bridge.start()
    try:
        qtbot.waitUntil(lambda: bridge.is_connected, timeout=10_000)
        with gui_daemon.client() as client:
            options = DubOptions(codec=Codec.H264, num_steps=1, seed=7)
            job_id = client.submit(short_clip.otio, options).job_id

        def has_quality() -> bool:
            row = controller.jobs.find(job_id)
            return row is not None and row.quality is not None

        qtbot.waitUntil(has_quality, timeout=180_000)
        view.select_job(job_id)
        text = view.quality_panel.summary_label.text()
        assert text.startswith("Quality: ") and "outside the mouth: PSNR" in text
        assert "confidence" not in text  # test weights: the daemon skips the landmark pass
        assert text.endswith("Note: sync skipped: the face landmarks are test weights")
    finally:
        bridge.stop()

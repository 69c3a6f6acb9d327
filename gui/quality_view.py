"""``QualityPanel``: the selected job's take quality (the daemon's check, ``JobInfo.quality``)
and a warning to look at the take before placing it when the check flagged something."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from xdub.protocol.records import PSNR_IDENTICAL_DB, JobState, TakeQuality
from xdub_gui.jobs_model import JobRow

WARNING_STYLE = "color: #8a1c12; background: #fdecea; padding: 4px; border-left: 3px solid #d93025;"


def quality_summary(quality: TakeQuality) -> str:
    """One line of the numbers: sync, PSNR and SSIM outside the mouth, flicker, seams."""
    if not quality.is_available:
        return f"Quality check unavailable: {quality.note}"
    parts = []
    if quality.sync_offset_frames is not None:
        trust = "" if quality.sync_is_reliable else " (not meaningful: test weights)"
        parts.append(
            f"sync {quality.sync_offset_frames:+d} frames, confidence "
            f"{quality.sync_confidence or 0.0:.2f}{trust}"
        )
    if quality.psnr_db is not None:
        psnr = "identical" if quality.psnr_db >= PSNR_IDENTICAL_DB else f"{quality.psnr_db:.1f} dB"
        parts.append(f"outside the mouth: PSNR {psnr}, SSIM {quality.ssim or 0.0:.3f}")
    if quality.flicker is not None:
        parts.append(f"flicker {quality.flicker:+.2f}")
    if quality.seam_psnr_drop_db is not None:
        parts.append(f"seams −{quality.seam_psnr_drop_db:.1f} dB")
    text = "Quality: " + "; ".join(parts) + (" (partial)" if quality.is_partial else "")
    return text + (f". Note: {quality.note}" if quality.note else "")


def quality_warning(quality: TakeQuality | None) -> str | None:
    """The warning to show before the take is placed, or None when nothing was flagged."""
    if quality is None or not quality.flags:
        return None
    return "Check the take before placing it: " + "; ".join(quality.flags)


class QualityPanel(QWidget):
    """Shows ``show_row(row)``'s quality; empty for jobs without a finished take."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.warning_label = QLabel("")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet(WARNING_STYLE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.warning_label)
        self.show_row(None)

    def show_row(self, row: JobRow | None) -> None:
        quality = row.quality if row is not None else None
        if row is None or row.state is not JobState.DONE:
            self.summary_label.setText("")
        elif quality is None:
            self.summary_label.setText("Quality: not measured (daemon older than protocol 1.2)")
        else:
            self.summary_label.setText(quality_summary(quality))
        warning = quality_warning(quality) if row is not None else None
        self.warning_label.setText(warning or "")
        self.warning_label.setVisible(warning is not None)

    @property
    def is_flagged(self) -> bool:
        return self.warning_label.isVisibleTo(self)

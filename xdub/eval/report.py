"""The take report: what ``evaluate_take`` measured, as JSON, as a terminal table, and the
flags an editor should see before placing the take.

JSON numbers follow the metric units (dB, 0..1, frames, 0..255 levels); an infinite PSNR
(identical pixels) is the string ``"inf"``; a metric that could not run is ``null`` with the
reason in ``notes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xdub.eval.seams import SeamSummary

MIN_SYNC_CONFIDENCE = 0.5
"""Below this the weight-free sync estimate is too unclear to flag an offset."""
MIN_PSNR_DB = 30.0
"""Preservation outside the mouth below this is flagged (an H.264 CRF-16 round trip of a
take that changed nothing outside the mouth stays well above 40 dB)."""


@dataclass(frozen=True)
class SyncReport:
    """Weight-free sync: ``offset_frames`` (positive: the audio lags), ``confidence`` (peak
    correlation minus the median over lags, 0..2); ``mouth_source`` says where the mouth
    opening came from and ``audio_source`` which audio was used."""

    offset_frames: int
    confidence: float
    peak_correlation: float
    mouth_source: str
    audio_source: str

    @property
    def is_reliable(self) -> bool:
        return "test weights" not in self.mouth_source


@dataclass(frozen=True)
class PreservationReport:
    """Take vs source outside the mouth: pooled PSNR (dB), worst frame PSNR, mean and worst
    SSIM, mean flicker (take's frame change minus the source's, 0..255 levels)."""

    psnr_db: float
    worst_psnr_db: float
    ssim: float
    worst_ssim: float
    flicker: float
    region_source: str


@dataclass(frozen=True)
class LseReport:
    """SyncNet's LSE-C (higher is better) and LSE-D (lower is better) and its offset."""

    lse_c: float
    lse_d: float
    offset_frames: int


@dataclass(frozen=True)
class Thumbnail:
    """A worst frame: source | take | difference (x4), as a PNG."""

    frame_index: int
    time_s: float
    psnr_db: float
    png: bytes


@dataclass(frozen=True)
class Series:
    """Per-frame curves for the plots; sync per sliding window (centre time)."""

    times_s: tuple[float, ...]
    psnr_db: tuple[float, ...]
    ssim: tuple[float, ...]
    flicker: tuple[float, ...]
    sync_times_s: tuple[float, ...] = ()
    sync_offset_frames: tuple[int, ...] = ()
    sync_confidence: tuple[float, ...] = ()


@dataclass(frozen=True)
class TakeReport:
    """Everything measured on one take against its source."""

    source: str
    take: str
    num_frames: int
    fps: float
    preservation: PreservationReport
    seams: SeamSummary
    series: Series
    sync: SyncReport | None = None
    lse: LseReport | None = None
    csim: float | None = None
    worst_frames: tuple[Thumbnail, ...] = ()
    notes: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    is_partial: bool = False
    """True when the time budget ran out before the last frame (the numbers cover a prefix)."""

    def flags(
        self, min_psnr_db: float = MIN_PSNR_DB, min_confidence: float = MIN_SYNC_CONFIDENCE
    ) -> list[str]:
        """Short reasons to look at the take before placing it (empty: nothing found)."""
        found = []
        sync = self.sync
        if sync is not None and sync.is_reliable and sync.confidence >= min_confidence:
            if sync.offset_frames != 0:
                found.append(f"lips off by {sync.offset_frames:+d} frames")
        if self.preservation.psnr_db < min_psnr_db:
            found.append(f"outside-mouth PSNR {self.preservation.psnr_db:.1f} dB")
        return found

    def to_json(self) -> dict[str, Any]:
        seams = self.seams
        return {
            "source": self.source,
            "take": self.take,
            "num_frames": self.num_frames,
            "fps": self.fps,
            "sync": None
            if self.sync is None
            else {
                "offset_frames": self.sync.offset_frames,
                "confidence": self.sync.confidence,
                "peak_correlation": self.sync.peak_correlation,
                "mouth_source": self.sync.mouth_source,
                "audio_source": self.sync.audio_source,
                "is_reliable": self.sync.is_reliable,
            },
            "lse": None
            if self.lse is None
            else {
                "lse_c": self.lse.lse_c,
                "lse_d": self.lse.lse_d,
                "offset_frames": self.lse.offset_frames,
            },
            "csim": self.csim,
            "preservation": {
                "psnr_db": json_number(self.preservation.psnr_db),
                "worst_psnr_db": json_number(self.preservation.worst_psnr_db),
                "ssim": self.preservation.ssim,
                "worst_ssim": self.preservation.worst_ssim,
                "flicker": self.preservation.flicker,
                "region_source": self.preservation.region_source,
            },
            "seams": {
                "seam_times_s": list(seams.seam_times_s),
                "num_near_frames": seams.num_near_frames,
                "psnr_near_db": json_number(seams.psnr_near_db),
                "psnr_elsewhere_db": json_number(seams.psnr_elsewhere_db),
                "psnr_drop_db": json_number(seams.psnr_drop_db),
                "ssim_near": seams.ssim_near,
                "ssim_elsewhere": seams.ssim_elsewhere,
                "flicker_near": seams.flicker_near,
                "flicker_elsewhere": seams.flicker_elsewhere,
                "flicker_rise": seams.flicker_rise,
            },
            "flags": self.flags(),
            "notes": list(self.notes),
            "elapsed_s": self.elapsed_s,
            "is_partial": self.is_partial,
        }


def json_number(value: float | None) -> float | str | None:
    """A float for JSON: ``"inf"`` for infinity, None for None or NaN."""
    if value is None or math.isnan(value):
        return None
    return "inf" if math.isinf(value) else value


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf" + unit
    return f"{value:.{digits}f}{unit}"


def table_rows(report: TakeReport) -> list[tuple[str, str]]:
    """(metric, value) rows of the terminal table."""
    sync, pres, seams = report.sync, report.preservation, report.seams
    rows: list[tuple[str, str]] = []
    if sync is None:
        rows.append(("sync", "n/a"))
    else:
        rows.append(("sync offset (frames, + = audio lags)", f"{sync.offset_frames:+d}"))
        rows.append(("sync confidence", f"{_fmt(sync.confidence)}  [{sync.mouth_source}]"))
    if report.lse is not None:
        rows.append(("LSE-C / LSE-D", f"{_fmt(report.lse.lse_c)} / {_fmt(report.lse.lse_d)}"))
    rows.append(("CSIM", _fmt(report.csim, digits=3)))
    rows.append(
        (
            "PSNR outside mouth (worst frame)",
            f"{_fmt(pres.psnr_db, ' dB')} ({_fmt(pres.worst_psnr_db, ' dB')})",
        )
    )
    rows.append(
        (
            "SSIM outside mouth (worst frame)",
            f"{_fmt(pres.ssim, digits=4)} ({_fmt(pres.worst_ssim, digits=4)})",
        )
    )
    rows.append(("flicker (take - source, levels)", _fmt(pres.flicker, digits=3)))
    rows.append(("window seams", str(len(seams.seam_times_s))))
    if seams.seam_times_s:
        rows.append(("seam PSNR drop", _fmt(seams.psnr_drop_db, " dB")))
        rows.append(("seam flicker rise", _fmt(seams.flicker_rise, digits=3)))
    return rows


def format_table(report: TakeReport) -> str:
    """The terminal table, then the flags and notes."""
    rows = table_rows(report)
    width = max(len(name) for name, _ in rows)
    lines = [f"{report.take}  vs  {report.source}  ({report.num_frames} frames)"]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    lines += [f"  FLAG: {flag}" for flag in report.flags()]
    lines += [f"  note: {note}" for note in report.notes]
    return "\n".join(lines)

"""``xdub eval --dataset DIR``: a folder of (source, dialogue[, reference]) items, each dubbed
(unless its take exists) and measured, summarised as the papers' table: means with 95 %
confidence intervals (Student's t over the items).

Layout: one sub-folder per item holding ``source.*`` (video), ``dialogue.*`` (audio) and,
optionally, ``reference.*`` (the real recording of that dialogue: PSNR/SSIM are then of the
take against it, over whole frames) and ``truth.json`` (synthetic clips: the mouth). The take is
``take.mp4`` beside them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from xdub.errors import MediaError
from xdub.eval.report import TakeReport

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".mxf")
AUDIO_SUFFIXES = (".wav", ".m4a", ".mp3", ".flac", ".aac")
TAKE_NAME = "take.mp4"
CONFIDENCE_LEVEL = 0.95


@dataclass(frozen=True)
class DatasetItem:
    """One item's files; ``take`` may not exist yet."""

    name: str
    source: Path
    dialogue: Path
    reference: Path | None
    truth: Path | None

    @property
    def take(self) -> Path:
        return self.source.parent / TAKE_NAME


def _find(folder: Path, stem: str, suffixes: Sequence[str]) -> Path | None:
    for suffix in suffixes:
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def find_items(root: Path) -> list[DatasetItem]:
    """The items under ``root`` in name order; a folder lacking source or dialogue is an error."""
    items = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        source = _find(folder, "source", VIDEO_SUFFIXES)
        dialogue = _find(folder, "dialogue", AUDIO_SUFFIXES)
        if source is None or dialogue is None:
            raise MediaError(
                f"{folder} lacks a source video or a dialogue audio file",
                hint="each item folder holds source.mp4 (or .mov ...) and dialogue.wav",
            )
        truth = folder / "truth.json"
        items.append(
            DatasetItem(
                folder.name,
                source,
                dialogue,
                _find(folder, "reference", VIDEO_SUFFIXES),
                truth if truth.is_file() else None,
            )
        )
    if not items:
        raise MediaError(f"{root} holds no item folders", hint="see docs/eval.md for the layout")
    return items


def mean_interval(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % t interval (0 for a single value; NaN for none)."""
    data = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if data.size == 0:
        return math.nan, math.nan
    if data.size == 1:
        return float(data[0]), 0.0
    sem = float(data.std(ddof=1)) / math.sqrt(data.size)
    return float(data.mean()), float(stats.t.ppf((1 + CONFIDENCE_LEVEL) / 2, data.size - 1) * sem)


@dataclass(frozen=True)
class ItemScores:
    """The paper-table numbers of one item (None: not measured)."""

    name: str
    lse_c: float | None
    lse_d: float | None
    csim: float | None
    psnr_db: float | None
    ssim: float | None
    sync_offset_frames: int | None


COLUMNS: tuple[tuple[str, Callable[[ItemScores], float | None]], ...] = (
    ("LSE-C", lambda s: s.lse_c),
    ("LSE-D", lambda s: s.lse_d),
    ("CSIM", lambda s: s.csim),
    ("PSNR (dB)", lambda s: s.psnr_db),
    ("SSIM", lambda s: s.ssim),
    (
        "|sync offset| (frames)",
        lambda s: None if s.sync_offset_frames is None else abs(s.sync_offset_frames),
    ),
)


def item_scores(name: str, report: TakeReport, reference: TakeReport | None) -> ItemScores:
    """Scores of one item: PSNR/SSIM against the reference when there is one, else the
    take's preservation outside the mouth."""
    quality = (reference or report).preservation
    return ItemScores(
        name=name,
        lse_c=report.lse.lse_c if report.lse else None,
        lse_d=report.lse.lse_d if report.lse else None,
        csim=report.csim,
        psnr_db=quality.psnr_db,
        ssim=quality.ssim,
        sync_offset_frames=report.sync.offset_frames if report.sync else None,
    )


def format_dataset_table(scores: Sequence[ItemScores]) -> str:
    """Rows: metric, mean ± 95 % half-width, items measured."""
    lines = [f"{'metric':<24} {'mean':>10}   {'95% CI':>9}  {'n':>3}"]
    for title, pick in COLUMNS:
        values = [v for v in (pick(s) for s in scores) if v is not None]
        mean, half = mean_interval(values)
        shown = "n/a" if math.isnan(mean) else ("inf" if math.isinf(mean) else f"{mean:.3f}")
        interval = "" if math.isnan(half) else f"± {half:.3f}"
        lines.append(f"{title:<24} {shown:>10}   {interval:>9}  {len(values):>3}")
    return "\n".join(lines)

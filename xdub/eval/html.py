"""The take report as one self-contained HTML page: summary table, flags, plots over time
(inline SVG: sync confidence and offset, PSNR, SSIM, flicker, window seams as dashed lines) and
the worst frames (PNG ``data:`` URIs). No script, no external file."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from html import escape

from xdub.eval.report import TakeReport, table_rows

PLOT_WIDTH_PX = 760
PLOT_HEIGHT_PX = 150
MARGIN_LEFT_PX = 56
MARGIN_BOTTOM_PX = 24
PSNR_CEILING_DB = 60.0
"""Infinite or higher PSNR is drawn at this height (and said so in the legend)."""

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:820px;color:#1d2330;
background:#f6f7f9}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:22px 0 6px}
.sub{color:#5b6472;font-size:12px;word-break:break-all}
table{border-collapse:collapse;background:#fff;width:100%}
td{padding:4px 10px;border-bottom:1px solid #e3e6eb}td:last-child{font-variant-numeric:tabular-nums}
.flag{background:#fdecea;color:#8a1c12;border-left:4px solid #d93025;padding:6px 10px;margin:4px 0}
.ok{background:#e8f5e9;color:#1b5e20;border-left:4px solid #34a853;padding:6px 10px}
.note{color:#5b6472;font-size:12px;margin:2px 0}
svg{background:#fff;display:block;margin-bottom:6px}
figure{margin:0 0 10px}figcaption{font-size:12px;color:#5b6472}
.frames img{display:block;margin:4px 0;image-rendering:pixelated;max-width:100%}
"""


def render_html(report: TakeReport) -> str:
    """The page for ``report`` (UTF-8 text)."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>xdub take report: {escape(report.take)}</title><style>{_STYLE}</style>",
        "</head><body>",
        "<h1>Take quality report</h1>",
        f"<div class='sub'>take {escape(report.take)}<br>source {escape(report.source)}"
        f"<br>{report.num_frames} frames at {report.fps:.3f} fps"
        f"{' (partial: time budget reached)' if report.is_partial else ''}</div>",
        "<h2>Summary</h2>",
        _flags(report.flags()),
        "<table>",
        *(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in table_rows(report)),
        "</table>",
        *(f"<div class='note'>{escape(note)}</div>" for note in report.notes),
        "<h2>Over time</h2>",
        *_plots(report),
        "<h2>Worst frames (source | take | difference x4)</h2><div class='frames'>",
        *(
            f"<figure><img alt='frame {t.frame_index}' src='data:image/png;base64,"
            f"{base64.b64encode(t.png).decode('ascii')}'><figcaption>frame {t.frame_index} "
            f"at {t.time_s:.2f} s: PSNR {_db(t.psnr_db)} outside the mouth</figcaption></figure>"
            for t in report.worst_frames
        ),
        "" if report.worst_frames else "<div class='note'>no frame differs from its source</div>",
        "</div></body></html>",
    ]
    return "\n".join(parts)


def _db(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1f} dB"


def _flags(flags: Sequence[str]) -> str:
    if not flags:
        return "<div class='ok'>No flags: sync and preservation are within the thresholds.</div>"
    return "".join(f"<div class='flag'>&#9888; {escape(flag)}</div>" for flag in flags)


def _plots(report: TakeReport) -> list[str]:
    series = report.series
    times = series.times_s
    end_s = max(times[-1] if times else 1.0, 1e-3)
    seams = report.seams.seam_times_s
    plots = []
    if series.sync_times_s:
        plots.append(
            _plot("sync confidence (sliding 2 s windows)", series.sync_times_s,
                  series.sync_confidence, end_s, seams, "#1a73e8")
        )  # fmt: skip
        plots.append(
            _plot("sync offset (frames; + = audio lags)", series.sync_times_s,
                  [float(v) for v in series.sync_offset_frames], end_s, seams, "#e37400",
                  symmetric=True)
        )  # fmt: skip
    capped = [min(v, PSNR_CEILING_DB) for v in series.psnr_db]
    plots.append(
        _plot(f"PSNR outside the mouth (dB; inf drawn at {PSNR_CEILING_DB:.0f})", times, capped,
              end_s, seams, "#188038")
    )  # fmt: skip
    plots.append(_plot("SSIM outside the mouth", times, series.ssim, end_s, seams, "#9334e6"))
    plots.append(
        _plot("flicker: take's frame change minus the source's (levels)", times, series.flicker,
              end_s, seams, "#d93025", symmetric=True)
    )  # fmt: skip
    return plots


def _plot(
    title: str,
    xs: Sequence[float],
    ys: Sequence[float],
    end_s: float,
    seams: Sequence[float],
    color: str,
    *,
    symmetric: bool = False,
) -> str:
    """One line plot as an SVG figure; dashed grey lines at the window seams."""
    w, h = PLOT_WIDTH_PX, PLOT_HEIGHT_PX
    x0, y1 = MARGIN_LEFT_PX, h - MARGIN_BOTTOM_PX
    finite = [v for v in ys if math.isfinite(v)] or [0.0]
    lo, hi = min(finite), max(finite)
    if symmetric:
        reach = max(abs(lo), abs(hi), 1e-6)
        lo, hi = -reach, reach
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1

    def sx(t: float) -> float:
        return x0 + (w - x0 - 8) * t / end_s

    def sy(v: float) -> float:
        return y1 - (y1 - 8) * (v - lo) / (hi - lo)

    points = " ".join(
        f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys, strict=True) if math.isfinite(y)
    )
    seam_lines = "".join(
        f"<line x1='{sx(t):.1f}' y1='8' x2='{sx(t):.1f}' y2='{y1}' stroke='#9aa0a6' "
        f"stroke-dasharray='4 3'><title>window seam at {t:.2f} s</title></line>"
        for t in seams
    )
    axis = (
        f"<line x1='{x0}' y1='{y1}' x2='{w - 8}' y2='{y1}' stroke='#5b6472'/>"
        f"<text x='{x0 - 6}' y='12' text-anchor='end' font-size='11'>{hi:.3g}</text>"
        f"<text x='{x0 - 6}' y='{y1}' text-anchor='end' font-size='11'>{lo:.3g}</text>"
        f"<text x='{x0}' y='{h - 6}' font-size='11'>0 s</text>"
        f"<text x='{w - 8}' y='{h - 6}' text-anchor='end' font-size='11'>{end_s:.2f} s</text>"
    )
    line = (
        f"<polyline fill='none' stroke='{color}' stroke-width='1.6' points='{points}'/>"
        if len(xs) > 1
        else "".join(
            f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='3' fill='{color}'/>"
            for x, y in zip(xs, ys, strict=True)
            if math.isfinite(y)
        )  # fmt: skip
    )
    return (
        f"<figure><svg width='{w}' height='{h}' viewBox='0 0 {w} {h}' "
        f"xmlns='http://www.w3.org/2000/svg' role='img' aria-label='{escape(title)}'>"
        f"{seam_lines}{axis}{line}</svg><figcaption>{escape(title)}</figcaption></figure>"
    )

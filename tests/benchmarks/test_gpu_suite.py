"""benchmarks/gpu_suite.py's dry run: every row's CPU-capable code path at tiny size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_dry_run_writes_a_row_for_every_case(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "gpu_suite.py"), "--dry-run",
         "--out", str(tmp_path), "--steps", "1", "--warmup", "1"],
        capture_output=True, text=True, timeout=800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_suite.json").read_text())
    rows = {row["case"]: row for row in report["rows"]}
    assert len(rows) == 14
    for name, row in rows.items():
        if "flash" in name or "sage" in name:
            assert row["status"].startswith("skipped:"), name
            continue
        assert row["status"] == "ok", (name, row["status"])
        assert row["s_per_step"] > 0 and row["dit_s_per_video_s"] > 0
        assert row["compile"] == ("compiled" if "compile" in name else "eager"), name
    baseline = rows["exact / resident / sdpa / eager"]
    assert baseline["rel_err_vs_exact"] == 0.0
    offload = rows["exact / offload / sdpa / eager"]
    assert offload["rel_err_vs_exact"] < 1e-5  # same math, weights moved
    draft = rows["draft / resident / plan-attn / eager"]
    assert (draft["num_steps"], draft["crop_px"]) == (10, 32)
    assert draft["rel_err_vs_exact"] is None  # another crop: nothing to compare
    assert any("CUDA graphs need a CUDA device" in note for note in report_notes(rows))
    markdown = (tmp_path / "gpu_suite.md").read_text()
    assert markdown.count("\n| ") == len(rows) + 1  # header + one line per row


def report_notes(rows: dict[str, dict[str, object]]) -> list[str]:
    return [str(note) for row in rows.values() for note in row["notes"]]  # type: ignore[attr-defined]

"""``xdub eval``: the terminal table, JSON (``sync.offset_frames``), HTML, and ``--dataset``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from xdub.cli import main
from xdub.media.audio import load_audio
from xdub.media.audio_writer import write_audio_file


def _write_shifted(path, source, frames: int):
    samples = load_audio(source)
    n = round(frames * 16000 / 25)
    shifted = np.concatenate([np.zeros(n, np.float32), samples])[: len(samples)]
    write_audio_file(path, iter([shifted[:, None]]), 16000, 1)
    return path


def test_eval_prints_a_table_and_writes_json_and_html(talking_clip, tmp_path, capsys) -> None:
    report_json, report_html = tmp_path / "r.json", tmp_path / "r.html"
    dialogue = _write_shifted(tmp_path / "late.wav", talking_clip.dialogue, 3)
    code = main([
        "eval", str(talking_clip.video), str(talking_clip.video), "--truth",
        str(talking_clip.truth), "--dialogue", str(dialogue), "--json", str(report_json),
        "--html", str(report_html), "--model", str(tmp_path / "no-models"),
    ])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "sync offset (frames, + = audio lags)  +3" in out
    assert "FLAG: lips off by +3 frames" in out
    data = json.loads(report_json.read_text())
    assert data["sync"]["offset_frames"] == 3
    assert data["sync"]["confidence"] > 0.8
    assert data["preservation"]["psnr_db"] == "inf"
    assert data["seams"]["seam_times_s"] == [72 / 25]
    assert data["lse"] is None and data["csim"] is None
    assert any("SyncNet" in note for note in data["notes"])
    page = report_html.read_text()
    assert page.count("<svg") == 5  # sync confidence, offset, PSNR, SSIM, flicker
    assert "window seam at 2.88 s" in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # self-contained


def test_eval_without_sources_explains(capsys) -> None:
    assert main(["eval"]) == 2
    assert "needs SOURCE and TAKE" in capsys.readouterr().err


def test_dataset_table_has_means_and_intervals(talking_clip, tmp_path, capsys) -> None:
    root = tmp_path / "set"
    for name, shift in (("a", 0), ("b", 0), ("c", 2)):
        item = root / name
        item.mkdir(parents=True)
        shutil.copy(talking_clip.video, item / "source.mp4")
        shutil.copy(talking_clip.video, item / "take.mp4")
        shutil.copy(talking_clip.truth, item / "truth.json")
        _write_shifted(item / "dialogue.wav", talking_clip.dialogue, shift)
    out_json = tmp_path / "set.json"
    code = main(["eval", "--dataset", str(root), "--model", str(tmp_path / "none"),
                 "--json", str(out_json)])  # fmt: skip
    assert code == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("|sync offset|"))
    assert row.split()[3:] == ["0.667", "±", "2.868", "3"]  # mean of 0, 0, 2; t(2) interval
    assert next(line for line in table.splitlines() if line.startswith("LSE-C")).split()[1] == "n/a"
    assert [item["sync_offset_frames"] for item in json.loads(out_json.read_text())] == [0, 0, 2]


def test_dataset_item_without_a_take_or_models_is_refused(talking_clip, tmp_path, capsys) -> None:
    item = tmp_path / "set" / "a"
    item.mkdir(parents=True)
    shutil.copy(talking_clip.video, item / "source.mp4")
    shutil.copy(talking_clip.dialogue, item / "dialogue.wav")
    assert main(["eval", "--dataset", str(tmp_path / "set"), "--model", str(tmp_path / "x")]) == 2
    assert "no model folder to dub it with" in capsys.readouterr().err


@pytest.mark.parametrize("values", [[1.0], [2.0, 4.0]])
def test_mean_interval(values) -> None:
    from xdub.eval.dataset import mean_interval

    mean, half = mean_interval(values)
    assert mean == pytest.approx(np.mean(values))
    assert half == (0.0 if len(values) == 1 else pytest.approx(12.7062 * 1.0, rel=1e-4))


def test_dataset_item_without_a_take_is_dubbed_with_the_model(tiny_model_dir, tmp_path, capsys):
    from xdub.media.synthetic import (
        AudioSpec,
        SyntheticVideoSpec,
        write_synthetic_audio,
        write_synthetic_video,
    )

    item = tmp_path / "set" / "a"
    item.mkdir(parents=True)
    spec = SyntheticVideoSpec(width=96, height=96, duration_s=1.0, seed=2)
    write_synthetic_video(item / "source.mp4", spec).save_truth(item / "truth.json")
    write_synthetic_audio(item / "dialogue.wav", spec.speech(), AudioSpec())
    code = main(["eval", "--dataset", str(tmp_path / "set"), "--model", str(tiny_model_dir)])
    assert code == 0
    assert (item / "take.mp4").is_file()  # dubbed by the pipeline, then measured
    table = capsys.readouterr().out
    psnr = next(line for line in table.splitlines() if line.startswith("PSNR"))
    assert psnr.split()[-1] == "1" and psnr.split()[2] != "n/a"

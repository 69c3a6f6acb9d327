"""``xdub eval``: measure a take's sync, identity and preservation (see docs/eval.md).

xdub eval SOURCE TAKE [--dialogue WAV] [--truth JSON] [--model DIR] [--json F] [--html F]
xdub eval --dataset DIR [--model DIR] [--json F]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``eval`` to the top-level ``subparsers``."""
    parser = subparsers.add_parser(
        "eval",
        help="measure a take: sync offset, LSE-C/D, CSIM, PSNR/SSIM outside the mouth, seams",
        description="Compare TAKE with the SOURCE clip it was dubbed from and print a table. "
        "Sync uses the mouth landmarks (the model folder's face networks, or a synthetic "
        "clip's --truth) against the dialogue; LSE-C/D and CSIM run when SyncNet/ArcFace "
        "weights are in MODEL/eval/. Nothing is downloaded.",
    )
    parser.add_argument("source", type=Path, nargs="?", help="the clip the take was dubbed from")
    parser.add_argument("take", type=Path, nargs="?", help="the take to measure")
    parser.add_argument("--dialogue", type=Path, help="the dialogue (default: the take's audio)")
    parser.add_argument("--truth", type=Path, help="synthetic clip truth (xdub media sample)")
    parser.add_argument("--model", type=Path, help="model folder (default: the installed one)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON")
    parser.add_argument("--html", type=Path, help="also write a self-contained HTML report")
    parser.add_argument("--dataset", type=Path, help="a folder of items (see docs/eval.md)")
    parser.add_argument("--device", default="cpu", help="device of the metric networks")
    parser.set_defaults(handler=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``xdub eval``."""
    from xdub.errors import MediaError

    if args.dataset is not None:
        if args.source or args.take:
            raise MediaError("give either SOURCE TAKE or --dataset DIR, not both")
        return _run_dataset(args)
    if args.source is None or args.take is None:
        raise MediaError("xdub eval needs SOURCE and TAKE", hint="or --dataset DIR")
    from xdub.eval.html import render_html
    from xdub.eval.report import format_table

    report = _evaluate(args.source, args.take, args.dialogue, args.truth, _model_dir(args), args)
    print(format_table(report))
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=1))
        print(f"wrote {args.json}")
    if args.html:
        args.html.write_text(render_html(report), encoding="utf-8")
        print(f"wrote {args.html}")
    return 0


def _model_dir(args: argparse.Namespace) -> Path | None:
    from xdub.paths import default_model_dir

    model_dir = args.model or default_model_dir()
    return model_dir if model_dir.is_dir() else None


def _evaluate(
    source: Path,
    take: Path,
    dialogue: Path | None,
    truth: Path | None,
    model_dir: Path | None,
    args: argparse.Namespace,
) -> Any:
    from xdub.eval.evaluate import EvalInputs, evaluate_take
    from xdub.eval.networks import metric_networks, take_mouth

    syncnet, arcface = metric_networks(model_dir, args.device)
    mouth = take_mouth(take, truth=truth, model_dir=model_dir, device=args.device)
    inputs = EvalInputs(mouth=mouth, dialogue=dialogue, syncnet=syncnet, arcface=arcface)
    return evaluate_take(source, take, inputs)


def _run_dataset(args: argparse.Namespace) -> int:
    from xdub.eval.dataset import find_items, format_dataset_table, item_scores

    model_dir = _model_dir(args)
    scores = []
    for item in find_items(args.dataset):
        if not item.take.is_file():
            _dub(item.source, item.dialogue, item.take, model_dir)
        report = _evaluate(item.source, item.take, item.dialogue, item.truth, model_dir, args)
        reference = None
        if item.reference is not None:
            reference = _evaluate(item.reference, item.take, item.dialogue, None, None, args)
        scores.append(item_scores(item.name, report, reference))
        print(f"{item.name}: done", file=sys.stderr)
    print(format_dataset_table(scores))
    if args.json:
        args.json.write_text(json.dumps([vars(s) for s in scores], indent=1))
        print(f"wrote {args.json}")
    return 0


def _dub(source: Path, dialogue: Path, take: Path, model_dir: Path | None) -> None:
    from xdub.errors import ModelError
    from xdub.pipeline import DubPipeline
    from xdub.protocol.records import Codec, DubOptions

    if model_dir is None:
        raise ModelError(
            f"{take} does not exist and there is no model folder to dub it with",
            code="model_missing",
            hint="pass --model DIR, or put take.mp4 in the item folder",
        )
    print(f"dubbing {source} -> {take}", file=sys.stderr)
    options = DubOptions(codec=Codec.H264)  # the item's take is an .mp4
    DubPipeline(model_dir, device="auto").run(source, dialogue, take, options)

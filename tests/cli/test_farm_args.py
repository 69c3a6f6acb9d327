"""The farm options of ``xdub daemon start``: what ``python -m xdub_daemon`` gets, and bad
counts refused before anything starts."""

from __future__ import annotations

import argparse

import pytest

from xdub.cli.farm_args import add_farm_arguments, farm_argv
from xdub_daemon.__main__ import config_from_args, parse_args


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_farm_arguments(parser)
    return parser


def test_the_split_options_reach_the_daemon_s_farm_options() -> None:
    args = _parser().parse_args(["--backend", "ray", "--segments", "4", "--segment-windows", "2"])
    config = config_from_args(parse_args(farm_argv(args)))
    assert (config.farm.max_segments, config.farm.min_segment_windows) == (4, 2)
    default = config_from_args(parse_args(farm_argv(_parser().parse_args([]))))
    assert (default.farm.max_segments, default.farm.min_segment_windows) == (0, 3)


@pytest.mark.parametrize(
    "argv", [["--segments", "-1"], ["--segment-windows", "0"], ["--segments", "x"]]
)
def test_bad_counts_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(argv)
    assert exited.value.code == 2
    assert "argument --segment" in capsys.readouterr().err

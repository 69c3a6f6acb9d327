"""Daemon fixtures: a tiny model (made once), generated media, and real daemon processes
(``support.daemon.DaemonProcess``: its own data, log and runtime folders)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import Clip, DaemonProcess, make_clip

from xdub.protocol.records import Codec, DubOptions


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from xdub.weights.tiny import make_tiny_folder

    return make_tiny_folder(tmp_path_factory.mktemp("tiny-model")).root


SHORT_CLIP_S = 0.4
"""10 frames: one window. The face tracker runs YOLOX at 640x640 per frame even with the tiny
model, so clip length is what makes a tiny take slow."""
TWO_WINDOW_CLIP_S = 3.2
"""80 frames at 25 fps: two 77-frame windows (77 + 72 >= 80)."""
FOUR_WINDOW_CLIP_S = 9.0
"""225 frames at 25 fps: four windows (77 + 2 x 72 < 225 <= 77 + 3 x 72)."""


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """A one-window clip."""
    return make_clip(tmp_path_factory.mktemp("media-short"), "short", SHORT_CLIP_S, seed=1)


@pytest.fixture(scope="session")
def two_window_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("media-two"), "two", TWO_WINDOW_CLIP_S, seed=5)


@pytest.fixture(scope="session")
def four_window_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("media-four"), "four", FOUR_WINDOW_CLIP_S, seed=9)


def _fast_options(**changes: object) -> DubOptions:
    values: dict[str, object] = {"codec": Codec.H264, "num_steps": 1, "seed": 7}
    values.update(changes)
    return DubOptions(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def fast_options() -> object:
    """``fast_options(**changes)``: options that keep a tiny take to seconds (one denoising
    step, H.264, a fixed seed)."""
    return _fast_options


@pytest.fixture
def daemon_factory(tmp_path: Path, tiny_model: Path) -> Iterator[type[DaemonProcess]]:
    """Start daemons over ``tmp_path``; every one is stopped at the end."""
    started: list[DaemonProcess] = []

    def make(
        extra_env: dict[str, str] | None = None,
        model: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> DaemonProcess:
        daemon = DaemonProcess(tmp_path / "daemon", model or tiny_model, extra_env, extra_args)
        started.append(daemon)
        return daemon

    yield make  # type: ignore[misc]
    for daemon in started:
        daemon.stop()


@pytest.fixture(scope="module")
def running_daemon(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path
) -> Iterator[DaemonProcess]:
    """One daemon shared by a module's tests."""
    daemon = DaemonProcess(tmp_path_factory.mktemp("daemon"), tiny_model)
    daemon.start()
    yield daemon
    daemon.stop()

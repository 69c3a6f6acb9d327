"""Progress of one take: stage weights, the overall fraction, the ETA, and cancellation.

The pipeline reports :class:`xdub.protocol.records.Progress` objects, which the daemon
publishes unchanged. Cancellation is cooperative: :meth:`ProgressReporter.check_cancel` is
called between denoising steps and between frame batches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from xdub.errors import JobCancelled
from xdub.protocol.records import Progress, Stage

ProgressCallback = Callable[[Progress], None]

STAGE_WEIGHTS: dict[Stage, float] = {
    Stage.LOAD_MODELS: 0.02,
    Stage.PREPARE: 0.01,
    Stage.FACE_TRACK: 0.08,
    Stage.AUDIO_FEATURES: 0.03,
    Stage.VAE_ENCODE: 0.04,
    Stage.DENOISE: 0.70,
    Stage.VAE_DECODE: 0.04,
    Stage.WRITE_TAKE: 0.08,
}
"""Rough share of a take's time per stage (denoising dominates on every device)."""

_MIN_FRACTION_FOR_ETA = 0.02


class ProgressReporter:
    """Turns stage-local progress into ``Progress`` events with an overall fraction and ETA."""

    def __init__(
        self,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_progress = on_progress
        self._cancel = cancel
        self._clock = clock
        self._started = clock()
        self._done_weight = 0.0
        self._stage: Stage | None = None

    def check_cancel(self) -> None:
        """Raise ``JobCancelled`` if cancellation was requested."""
        if self._cancel is not None and self._cancel.is_set():
            raise JobCancelled("cancelled by request")

    @property
    def current_stage(self) -> Stage | None:
        """The stage entered last (None before the first)."""
        return self._stage

    def stage(self, stage: Stage) -> None:
        """Enter ``stage`` (the previous one counts as finished)."""
        if self._stage is not None:
            self._done_weight += STAGE_WEIGHTS[self._stage]
        self._stage = stage
        self.report(0.0)

    def report(
        self,
        stage_fraction: float,
        *,
        clip: int = 0,
        num_clips: int = 0,
        step: int = 0,
        num_steps: int = 0,
    ) -> None:
        """Report ``stage_fraction`` (0..1) of the current stage; checks for cancellation."""
        self.check_cancel()
        if self._stage is None or self._on_progress is None:
            return
        fraction = min(1.0, self._done_weight + STAGE_WEIGHTS[self._stage] * stage_fraction)
        elapsed_s = self._clock() - self._started
        eta_s = None
        if fraction >= _MIN_FRACTION_FOR_ETA:
            eta_s = max(0.0, elapsed_s / fraction * (1.0 - fraction))
        self._on_progress(
            Progress(
                stage=self._stage,
                clip=clip,
                num_clips=num_clips,
                step=step,
                num_steps=num_steps,
                fraction=fraction,
                eta_s=eta_s,
            )
        )

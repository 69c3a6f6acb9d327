"""The window stages of a take: decode and crop, denoise, then decode, paste and write.

Per 77-frame window k: the source pass (``xdub.take_source``: from the landmark pass's
``FrameSpool``, or a second decode into a ``FrameRing``) makes the crops window k needs and
keeps the frames for the paste; window k denoises; the frames it made final are decoded
(``FinalFrames``), blended, pasted into the source frames and written (``TakePaster``). With
``overlap`` the three run on threads (``xdub.overlap``): the decode and crops of window k + 1
and the paste and encode of window k - 1 while window k denoises. Under ``low_vram`` the VAE
decode never overlaps a denoising window: each window's decode runs after it, with the DiT
sent home (minimum VRAM before speed). The take is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xdub.dialogue import Dialogue
from xdub.face.crop_store import CropStore
from xdub.face.paste import blend_border
from xdub.face.track import FaceTrack
from xdub.media.codecs import TakeSettings
from xdub.media.encode import TakeWriter
from xdub.media.frame_ring import FrameRing
from xdub.media.frame_spool import FrameSpool
from xdub.overlap import Overlapped, run_sequential
from xdub.progress import ProgressReporter
from xdub.protocol.records import Stage, VramPolicy
from xdub.sample.clips import FinalFrames, LoopInputs, LoopState, denoise_next_window
from xdub.sample.denoise import SamplerSettings
from xdub.sample.step_cache import IndicatorFn, SamplingStats
from xdub.sample.windows import WindowPlan
from xdub.take import VFR_TIME_BASE, TakePaster
from xdub.take_plan import TakePlan
from xdub.take_source import source_pass
from xdub.weights.bundle import ModelBundle
from xdub.weights.residency import Residency

WindowCallback = Callable[[int, int, LoopState], None]


@dataclass(frozen=True)
class TakeWindows:
    """Everything the window stages of one take need."""

    models: ModelBundle
    windows: WindowPlan
    plan: TakePlan
    track: FaceTrack
    crops: CropStore
    crop_size: int
    inputs: LoopInputs
    settings: SamplerSettings
    indicator: IndicatorFn | None
    stats: SamplingStats
    dialogue: Dialogue
    output: Path
    take: TakeSettings
    resume: LoopState | None
    on_window: WindowCallback | None
    overlap: bool
    segment_starts: tuple[int, ...] = ()
    """A split take (``xdub.sample.segments``): windows that start fresh, without the motion
    frames of the window before."""


def make_take(
    job: TakeWindows, frames: FrameRing | FrameSpool, progress: ProgressReporter
) -> tuple[LoopState, int]:
    """Crop, denoise, paste and write every window; returns the state and frames written.

    ``frames``: the spool the landmark pass filled, or the ring of a second source decode."""
    plan = job.plan
    schedule = plan.schedule(job.windows, job.inputs.total_length)
    stages: Overlapped[LoopState] | None = None

    def check() -> None:
        progress.check_cancel()
        if stages is not None:
            stages.check()

    source = source_pass(plan, job.track.boxes, job.crops, job.crop_size, frames, check)
    final = FinalFrames(job.models.vae, job.inputs.ref_frames, job.windows)
    writer = _take_writer(job)
    count = plan.info.num_frames

    def on_frame(done: int) -> None:
        if progress.current_stage is Stage.WRITE_TAKE:
            progress.report(done / count)

    paster = TakePaster(
        writer,
        source.frame,
        boxes=job.track.boxes,
        has_face=job.track.has_face,
        covering=plan.covering,
        times_s=plan.times_s,
        on_frame=on_frame,
    )
    denoise = _Denoiser(job, progress, check)
    num_windows = schedule.num_windows

    def prepare(window: int) -> None:
        source.decode_until(schedule.decode_stops[window])

    def finish(window: int, state: LoopState) -> None:
        faces = _blended(final.after_window(state, window, num_windows), job.inputs, check)
        paster.paste_until(schedule.paste_stops[window], faces)
        if window + 1 < num_windows:
            for _ in faces:  # the causal decode must see every latent of the window
                pass

    residency = job.models.residency
    process: Callable[[int], LoopState] = denoise
    finish_stage: Callable[[int, LoopState], None] = finish
    if residency.policy is VramPolicy.LOW_VRAM:
        process, finish_stage = _decode_after_offload(residency, denoise, finish), _nothing
    progress.stage(Stage.DENOISE)
    try:
        with writer, residency.stage("dit", "vae"):
            if job.overlap:
                stages = Overlapped(num_windows, prepare, finish_stage)
                stages.run(process)
            else:
                run_sequential(num_windows, prepare, process, finish_stage)
    finally:
        source.close()
    return denoise.state, writer.num_frames


def denoise_windows(
    job: TakeWindows, frames: FrameSpool | None, progress: ProgressReporter, stop: int
) -> LoopState:
    """Denoise the windows from ``job.resume``'s next one up to ``stop`` (one segment of a
    split take, ``xdub.sample.segments``), cropping the faces they need from ``frames`` (or
    a decode of the source); no latent is decoded, nothing pasted or written. Returns the
    state."""
    plan = job.plan
    schedule = plan.schedule(job.windows, job.inputs.total_length)
    check = progress.check_cancel
    source = source_pass(plan, job.track.boxes, job.crops, job.crop_size, frames, check)
    denoise = _Denoiser(job, progress, check, announces_write=False)
    progress.stage(Stage.DENOISE)
    try:
        with job.models.residency.stage("dit", "vae"):
            for window in range(denoise.state.windows_done, stop):
                source.decode_until(schedule.decode_stops[window])
                denoise(window)
    finally:
        source.close()
    return denoise.state


def ring_capacity(plan: TakePlan, windows: WindowPlan, total_length: int) -> int:
    """Frames the ring must hold: decode a window ahead, paste a window behind."""
    return plan.schedule(windows, total_length).frames_held(lookahead=1, lag=1)


def _decode_after_offload(
    residency: Residency,
    denoise: Callable[[int], LoopState],
    finish: Callable[[int, LoopState], None],
) -> Callable[[int], LoopState]:
    """``low_vram``'s window: denoise, send the DiT home, then decode, paste and write on the
    same thread, so the VAE's decode never shares the device with the DiT or its activations
    (only the CPU-side source decode of the next window still runs beside it)."""

    def process(window: int) -> LoopState:
        with residency.stage("dit", "vae"):
            state = denoise(window)
        with residency.stage("vae"):
            finish(window, state)
        return state

    return process


def _nothing(_window: int, _state: LoopState) -> None:
    """The finish stage when ``process`` finished the window itself."""


class _Denoiser:
    """``denoise(k)``: the state with window k done (denoised now unless resumed past it)."""

    def __init__(
        self,
        job: TakeWindows,
        progress: ProgressReporter,
        check: Callable[[], None],
        *,
        announces_write: bool = True,
    ) -> None:
        self.state = job.resume or LoopState()
        self.num_windows = job.windows.num_clips(job.inputs.total_length)
        self._job, self._progress, self._check = job, progress, check
        self._announces_write = announces_write

    def __call__(self, window: int) -> LoopState:
        if window >= self.state.windows_done:
            job, models = self._job, self._job.models
            if window in job.segment_starts:  # a segment's first window: a fresh start
                self.state = LoopState(self.state.window_latents, None, self.state.first_window)
            self.state = denoise_next_window(
                models.dit,
                models.vae,
                job.inputs,
                models.text,  # moves with the DiT: taken once the group is on the device
                job.settings,
                plan=job.windows,
                state=self.state,
                dtype=models.dtype,
                on_step=self._on_step,
                indicator=job.indicator,
                stats=job.stats,
            )
            if job.on_window is not None:
                job.on_window(self.state.windows_done, self.num_windows, self.state)
        if window + 1 == self.num_windows and self._announces_write:
            self._progress.stage(Stage.WRITE_TAKE)  # what is left: the last windows' paste
        return self.state

    def _on_step(self, window: int, num_windows: int, step: int, num_steps: int) -> None:
        done = (window * num_steps + step) / (num_windows * num_steps)
        self._progress.report(
            done, clip=window + 1, num_clips=num_windows, step=step, num_steps=num_steps
        )
        self._check()


def _blended(
    chunks: Iterator[tuple[int, np.ndarray]], inputs: LoopInputs, check: Callable[[], None]
) -> Iterator[tuple[int, np.ndarray]]:
    for first, frames in chunks:
        check()
        yield first, blend_border(frames, inputs.ref_frames(first, first + len(frames)))


def _take_writer(job: TakeWindows) -> TakeWriter:
    info = job.plan.info
    return TakeWriter(
        job.output,
        width=info.display_width,
        height=info.display_height,
        fps=info.fps,
        time_base=VFR_TIME_BASE if info.is_vfr else None,
        duration_s=info.duration_s,
        timecode=info.timecode,
        audio=job.dialogue.take_audio,
        settings=job.take,
    )

"""The sliding-window loop over a whole take: 77-frame windows, 5-frame motion overlap.

Window k covers generated frames ``[72k, 72k + 77)``. Its reference is the source crop of those
frames; from k = 1 on, its first two latents are the re-encoded, colour-corrected last five
frames of window k - 1. Each window's final latents are kept (they are small) and stitched at
the end; the state after every window is a :class:`LoopState`, so a run interrupted between
windows resumes from the last finished one and yields the same latents.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from xdub.sample.audio_windows import latent_audio_features
from xdub.sample.color import color_correction
from xdub.sample.denoise import (
    GuidedVelocity,
    SamplerSettings,
    StepCallback,
    VelocityFn,
    VelocityModel,
    denoise_window,
    window_noise,
)
from xdub.sample.latents import stitch_clips, stitch_piece
from xdub.sample.segments import SegmentPlan
from xdub.sample.step_cache import CachedVelocity, IndicatorFn, SamplingStats, StepCacheRule
from xdub.sample.windows import WindowPlan

DEFAULT_PLAN = WindowPlan()


class WindowVae(Protocol):
    """What the loop needs of the VAE (see ``xdub.model.vae.WanVae``)."""

    def encode(self, frames: np.ndarray | Tensor) -> Tensor: ...

    def decode_stream(self, latents: Tensor) -> Iterator[np.ndarray]: ...

    def stream_decoder(self) -> StreamDecoder: ...


class StreamDecoder(Protocol):
    """A causal decode fed a latent sequence in pieces (see ``xdub.model.vae.LatentDecoder``)."""

    def decode(self, latents: Tensor) -> Iterator[np.ndarray]: ...


RefFrames = Callable[[int, int], np.ndarray]
"""``(start, stop) -> (stop - start, H, W, 3) uint8``: source crops of generated frames."""


@dataclass
class LoopState:
    """Progress of a take between windows: everything needed to resume exactly.

    ``first_window``: the window ``window_latents[0]`` is; 0 for a whole take, the segment's
    first window for one segment of a split take (``xdub.sample.segments``), which starts
    there fresh, like a take's first window (no motion frames)."""

    window_latents: list[Tensor] = field(default_factory=list)
    motion_video: np.ndarray | None = None
    first_window: int = 0

    @property
    def windows_done(self) -> int:
        """The next window to denoise (windows before ``first_window`` count as done)."""
        return self.first_window + len(self.window_latents)


@dataclass(frozen=True)
class LoopInputs:
    """The per-take inputs of the window loop.

    whisper: (F_w, 1280) and wav2vec: (F_v, 768) 50 Hz features of the whole take's audio;
    total_length: generated frames
    (77 + 72k); seed: noise seed; independent_noise: draw each window's noise from seed + k
    instead of the reference's identical noise for every window.
    """

    ref_frames: RefFrames
    whisper: Tensor
    wav2vec: Tensor
    total_length: int
    seed: int = 42
    independent_noise: bool = False


WindowCallback = Callable[[int, int, LoopState], None]
"""Called as ``(windows_done, num_windows, state)`` after each window (for checkpoints)."""

WindowStepCallback = Callable[[int, int, int, int], None]
"""Called as ``(window, num_windows, steps_done, num_steps)`` after every denoising step."""


@torch.no_grad()
def run_windows(
    model: VelocityModel,
    vae: WindowVae,
    inputs: LoopInputs,
    context: object,
    settings: SamplerSettings,
    *,
    plan: WindowPlan = DEFAULT_PLAN,
    state: LoopState | None = None,
    dtype: torch.dtype = torch.bfloat16,
    on_step: WindowStepCallback | None = None,
    on_window: WindowCallback | None = None,
    indicator: IndicatorFn | None = None,
    stats: SamplingStats | None = None,
) -> LoopState:
    """Denoise every window not yet in ``state``; returns the completed state.

    ``context``: the constant text context (a ``TextContext`` or the raw umt5 output) on the
    model's device. Latents are (1, 48, 20, H/16, W/16) per window in ``dtype`` on the VAE's
    device. ``indicator``: the step cache's change predictor, needed when
    ``settings.step_cache_threshold`` > 0; ``stats`` collects what the windows run here did.
    """
    state = state if state is not None else LoopState()
    stats = stats if stats is not None else SamplingStats()
    if settings.step_cache_threshold > 0 and indicator is None:
        raise ValueError("step caching needs an indicator")
    num_windows = plan.num_clips(inputs.total_length)
    while state.windows_done < num_windows:
        state = denoise_next_window(
            model, vae, inputs, context, settings, plan=plan, state=state, dtype=dtype,
            on_step=on_step, indicator=indicator, stats=stats,
        )  # fmt: skip
        if on_window is not None:
            on_window(state.windows_done, num_windows, state)
    return state


@torch.no_grad()
def denoise_next_window(
    model: VelocityModel,
    vae: WindowVae,
    inputs: LoopInputs,
    context: object,
    settings: SamplerSettings,
    *,
    plan: WindowPlan = DEFAULT_PLAN,
    state: LoopState,
    dtype: torch.dtype = torch.bfloat16,
    on_step: WindowStepCallback | None = None,
    indicator: IndicatorFn | None = None,
    stats: SamplingStats | None = None,
) -> LoopState:
    """Denoise window ``state.windows_done``; returns the state with it added (arguments as
    ``run_windows``)."""
    stats = stats if stats is not None else SamplingStats()
    rule = StepCacheRule(settings.step_cache_threshold)
    if rule.threshold > 0 and indicator is None:
        raise ValueError("step caching needs an indicator")
    starts = plan.clip_starts(inputs.total_length)
    window = state.windows_done
    start = starts[window]
    ref_video = inputs.ref_frames(start, start + plan.clip_num_frames)
    ref_latents = vae.encode(ref_video).to(dtype)
    motion_latents = None
    if state.motion_video is not None:
        motion_latents = vae.encode(state.motion_video).to(dtype)
    audio = latent_audio_features(inputs.whisper, inputs.wav2vec, start, plan.clip_num_frames).to(
        device=ref_latents.device, dtype=dtype
    )
    seed = inputs.seed + window if inputs.independent_noise else inputs.seed
    noise = window_noise(tuple(ref_latents.shape), seed, dtype).to(ref_latents.device)
    velocity = GuidedVelocity(
        model,
        ref_latents,
        audio,
        context,
        settings.guidance,
        num_motion_latents=0 if motion_latents is None else motion_latents.shape[2],
        reuse=settings.guidance_reuse,
    )
    stepper: VelocityFn = velocity
    if rule.threshold > 0 and indicator is not None:
        stepper = CachedVelocity(
            velocity, indicator, rule, settings.num_steps, window=window, stats=stats
        )
    else:
        stats.computed += settings.num_steps
    latents = denoise_window(
        stepper,
        noise,
        ref_latents,
        motion_latents,
        settings,
        on_step=_window_step(on_step, window, len(starts)),
    )
    stats.branch_passes += velocity.passes
    is_last = window + 1 == len(starts)
    motion_video = None if is_last else _motion_frames(vae, latents, ref_video, plan)
    return LoopState([*state.window_latents, latents], motion_video, state.first_window)


def stitched_latents(state: LoopState, plan: WindowPlan = DEFAULT_PLAN) -> Tensor:
    """All windows joined with the boundary average: (1, 48, 20 + 18(n - 1), h, w)."""
    return stitch_clips(state.window_latents, plan.motion_latent_frames)


@torch.no_grad()
def decode_take(
    vae: WindowVae,
    latents: Tensor,
    ref_frames: RefFrames,
    total_length: int,
) -> Iterator[tuple[int, np.ndarray]]:
    """Stream the final decode as ``(first_frame, frames uint8 (t, H, W, 3))`` chunks.

    Each chunk is colour-corrected against its source crops (per frame, so chunking is exact)
    and the output stops at ``total_length`` frames.
    """
    done = 0
    for chunk in vae.decode_stream(latents):
        chunk = chunk[: total_length - done]
        if len(chunk) == 0:
            return
        corrected = _corrected(chunk, ref_frames(done, done + len(chunk)))
        yield done, corrected
        done += len(chunk)


class FinalFrames:
    """The take's final decode, a window at a time: the frames each finished window makes final.

    The stitched latents up to window k's last one are final once window k is done (its last
    latent is averaged with window k + 1's first frames), so the take can be decoded, pasted and
    written while later windows denoise. The causal decode keeps its cache between windows, and
    the frames equal ``decode_take`` of the whole stitched latents.
    """

    def __init__(self, vae: WindowVae, ref_frames: RefFrames, plan: WindowPlan = DEFAULT_PLAN):
        self._decoder = vae.stream_decoder()
        self._ref_frames = ref_frames
        self._plan = plan
        self._done = 0

    def after_window(
        self, state: LoopState, window: int, num_windows: int
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``(first_frame, frames uint8 (t, H, W, 3))`` colour-corrected chunks made final by
        ``window`` (``state`` holds it). Exhaust it before asking for the next window."""
        latents = stitch_piece(
            state.window_latents,
            window,
            is_last=window + 1 == num_windows,
            num_motion_latents=self._plan.motion_latent_frames,
        )
        for chunk in self._decoder.decode(latents):
            first = self._done
            self._done += len(chunk)
            yield first, _corrected(chunk, self._ref_frames(first, self._done))


def _motion_frames(
    vae: WindowVae, latents: Tensor, ref_video: np.ndarray, plan: WindowPlan
) -> np.ndarray:
    """The last motion frames of a window's decode, colour-corrected: (5, H, W, 3) uint8."""
    # Chunks hold 1 or 4 frames, so the last ``motion_num_frames`` chunks always suffice.
    tail: deque[np.ndarray] = deque(maxlen=plan.motion_num_frames)
    tail.extend(vae.decode_stream(latents))
    frames = np.concatenate(tail)[-plan.motion_num_frames :]
    return _corrected(frames, ref_video[-plan.motion_num_frames :])


def _corrected(generated: np.ndarray, source: np.ndarray) -> np.ndarray:
    return color_correction(torch.from_numpy(generated), torch.from_numpy(source)).numpy()


def _window_step(
    on_step: WindowStepCallback | None, window: int, num_windows: int
) -> StepCallback | None:
    if on_step is None:
        return None

    def report(steps_done: int, num_steps: int) -> None:
        on_step(window, num_windows, steps_done, num_steps)

    return report


def assemble_segments(segments: Sequence[LoopState], plan: SegmentPlan) -> LoopState:
    """One take's state from the finished states of its segments (``xdub.sample.segments``),
    in plan order: the input of the take's decode, paste and write."""
    if len(segments) != len(plan.starts):
        raise ValueError(f"{len(segments)} segment states for {len(plan.starts)} segments")
    latents = []
    for state, (first, stop) in zip(segments, plan.ranges, strict=True):
        if state.first_window != first or state.windows_done != stop:
            raise ValueError(
                f"the state of windows {state.first_window}..{state.windows_done} is not "
                f"segment {first}..{stop}"
            )
        latents += state.window_latents
    return LoopState(latents, None)

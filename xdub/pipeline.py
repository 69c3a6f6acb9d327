"""``DubPipeline``: a clip plus new dialogue in, an editor-ready dubbed take out.

Orchestration only; each stage lives in its own module:

1. probe the clip once and plan the 25 fps model frames by timestamp (``xdub.take_plan``);
2. track the speaker's face over the model frames (``xdub.face.track``): the source decode,
   which also keeps every dubbed frame, as RGB, in a file spool when the work folder has room
   (``xdub.take_source.open_spool``);
3. load the dialogue, fit it to the clip's length, and encode audio features (``xdub.audio``);
4. per 77-frame window: a window ahead, crop the faces into a memory-mapped store from the
   spool (without one: decode the source a second time, keeping the frames in a file ring);
   denoise the window (``xdub.sample.clips``); decode the frames it made final, colour-correct,
   blend, paste them into the source frames and write (``xdub.take``). With ``overlap`` the
   three run on threads (``xdub.overlap``), the decode and crops of window k + 1 and the paste
   and encode of window k - 1 while window k denoises.

The crop boxes need the whole clip's landmarks first (the speaker and the smoothing case are
chosen over the whole clip), so a single decode keeps every frame until the end: on disk, in
the spool, or (no room for it) the source is decoded again; see docs/media.md for the rule.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xdub.audio.cache import FeatureCache
from xdub.audio.features import AudioFeatures
from xdub.dialogue import Dialogue, load_dialogue
from xdub.errors import JobError, MediaError
from xdub.face.crop_store import CropStore
from xdub.face.track import FaceTrack, FaceTracker
from xdub.face.track_store import read_cached_track, save_track
from xdub.job.options import DubOptions, noise_seed, speaker_choice, take_settings
from xdub.media.fps import MODEL_FPS
from xdub.media.frame_ring import FrameRing
from xdub.media.frame_spool import FrameSpool
from xdub.media.probe import MediaScan, scan_media
from xdub.progress import ProgressCallback, ProgressReporter
from xdub.protocol.records import Stage, VramPolicy
from xdub.sample.clips import LoopInputs, LoopState
from xdub.sample.denoise import SamplerSettings
from xdub.sample.guidance import GuidanceScales
from xdub.sample.segments import (
    MIN_SEGMENT_WINDOWS,
    SegmentPlan,
    boundary_loudness,
    plan_segments,
)
from xdub.sample.step_cache import SamplingStats
from xdub.sample.windows import WindowPlan, audio_frame_count, pingpong_indices
from xdub.speed.apply import DitSpeedups
from xdub.speed.indicator import ModulatedInput
from xdub.speed.plan import SpeedPlan, plan_for_options, speed_metadata
from xdub.take_plan import TakePlan, plan_take
from xdub.take_source import SPOOL_MODES, model_frames, open_spool
from xdub.take_windows import (
    TakeWindows,
    WindowCallback,
    denoise_windows,
    make_take,
    ring_capacity,
)
from xdub.weights.bundle import ModelBundle

log = logging.getLogger(__name__)

MIN_FACE_SCORE = 0.3
"""Mean face-landmark score (RTMW score / 10) below which a frame counts as faceless; the
reference's own "unseen" threshold. Test weights are uncalibrated, so they skip the check."""


@dataclass(frozen=True)
class DubResult:
    """What a finished take is: its file, frame count and the warnings an editor should see."""

    output: Path
    num_frames: int
    num_windows: int
    face_boxes: np.ndarray
    """(N, 4) int64 crop box of every 25 fps model frame, upright frame pixels (for QC)."""
    warnings: tuple[str, ...] = ()
    is_test_weights: bool = False
    speed: dict[str, Any] = field(default_factory=dict)
    """The speed settings in effect and what they did (``SpeedPlan.as_metadata`` plus the
    compile state and the computed/skipped steps): for the take's metadata."""

    track: FaceTrack | None = None
    """The crop track the take used (to make it again without tracking, ``run(track=)``)."""

    @property
    def is_draft(self) -> bool:
        return bool(self.speed.get("is_draft"))


class DubPipeline:
    """Dubs takes with the models of one folder, loaded once and kept for every call.

    ``device``: ``"auto"`` (CUDA, then MPS, then CPU) or a torch device name; ``precision``:
    ``"auto"`` (bf16 on accelerators, fp32 on the CPU), ``"bf16"`` or ``"fp32"``;
    ``vram_policy``: where the weights wait between stages (``xdub.protocol.records.VramPolicy``);
    ``face_backend``: ``"builtin"`` or ``"openmmlab"`` landmark networks (``xdub.face.backends``);
    ``compile``: regional ``torch.compile`` of the DiT blocks, ``"auto"`` (CUDA only), ``"on"``
    or ``"off"``; ``cuda_graphs``: compile with CUDA graphs (CUDA, not under ``low_vram``);
    ``overlap``: decode/crop and paste/encode on threads while windows denoise (the take is the
    same either way; under ``low_vram`` the VAE decode still waits for the DiT to go home);
    ``spool``: keep the decoded source frames in the work folder so the take decodes its
    source once, ``"auto"`` (when they take at most half its free space), ``"on"`` or ``"off"``
    (decode twice; the take is the same either way).
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        device: str = "auto",
        precision: str = "auto",
        feature_cache: FeatureCache | None = None,
        work_dir: Path | None = None,
        vram_policy: VramPolicy = VramPolicy.RESIDENT,
        face_backend: str = "builtin",
        compile: str = "auto",
        cuda_graphs: bool = False,
        overlap: bool = True,
        spool: str = "auto",
    ) -> None:
        if spool not in SPOOL_MODES:
            raise ValueError(f"spool {spool!r} is not one of {', '.join(SPOOL_MODES)}")
        self.models = ModelBundle.load(
            Path(model_dir),
            device=device,
            precision=precision,
            vram_policy=vram_policy,
            face_backend=face_backend,
        )
        self.feature_cache = feature_cache
        self.work_dir = work_dir
        self.overlap = overlap
        self.spool = spool
        self.plan = WindowPlan()
        self.vram_policy = VramPolicy(vram_policy)
        self.speedups = DitSpeedups(
            self.models.dit, compile=compile, cuda_graphs=cuda_graphs, vram_policy=vram_policy
        )

    def run(
        self,
        video: Path,
        audio: Path,
        output: Path,
        options: DubOptions | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        resume: LoopState | None = None,
        on_window: WindowCallback | None = None,
        frames: tuple[int, int] | None = None,
        source: MediaScan | None = None,
        track: FaceTrack | None = None,
        track_cache: Path | None = None,
        segments: SegmentPlan | None = None,
    ) -> DubResult:
        """Dub ``video`` with ``audio`` into ``output`` (written atomically).

        ``frames``: ``(first, count)`` file frame indices to dub (default: the whole file); the
        take holds exactly those frames, its timecode shifted to the first one. ``source``:
        ``video``'s ``scan_media`` when the caller has it already (the file is not probed again).
        ``track``: the crop track of an earlier take of the same frames (``DubResult.track``;
        ``Make final`` after a draft): face tracking and its decode are skipped.

        ``resume``/``on_window``: continue from, and checkpoint, the state after each window,
        so an interrupted take resumes and yields the same frames; ``track_cache``: a file
        that keeps the face track, so a resumed take skips the face-tracking pass.
        ``segments``: a split take (``xdub.sample.segments``), its segments denoised one after
        the other here; its windows must be the take's. Raises
        ``JobCancelled`` when ``cancel`` is set, ``MediaError``/``ModelError`` for problems the
        user can fix.
        """
        video, audio, output = Path(video), Path(audio), Path(output)
        if source is not None and source.path != video:
            raise ValueError(f"the scan of {source.path} is not of {video}")
        call = _Call(
            video,
            audio,
            output,
            options or DubOptions(),
            resume,
            on_window,
            frames,
            track,
            track_cache,
            segments,
        )
        try:
            return self._run(call, source, ProgressReporter(on_progress, cancel))
        except torch.OutOfMemoryError as error:
            raise _out_of_memory(error, self.models.device) from error
        finally:
            self.models.residency.release()

    def plan_segments(
        self,
        video: Path,
        audio: Path,
        max_segments: int,
        options: DubOptions | None = None,
        *,
        min_windows: int = MIN_SEGMENT_WINDOWS,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        frames: tuple[int, int] | None = None,
        source: MediaScan | None = None,
        track_cache: Path | None = None,
    ) -> SegmentPlan:
        """The segments of a split take (``xdub.sample.segments.plan_segments``) of at most
        ``max_segments``, boundaries at the dialogue's pauses. It tracks the face into
        ``track_cache`` and encodes the audio features into ``feature_cache`` (when set), so
        the segments' runs and the take's assembly skip both. Arguments as ``run``."""
        call = _Call(
            Path(video),
            Path(audio),
            Path(),
            options or DubOptions(),
            frames=frames,
            track_cache=track_cache,
        )
        progress = ProgressReporter(on_progress, cancel)
        try:
            with self._opened(call, source, progress, keep_frames=False) as take:
                num_windows = self.plan.num_clips(take.windows.inputs.total_length)
                loudness = boundary_loudness(take.dialogue.samples_16k, num_windows, self.plan)
        finally:
            self.models.residency.release()
        return plan_segments(num_windows, max_segments, loudness, min_windows)

    def denoise_segment(
        self,
        video: Path,
        audio: Path,
        segment: tuple[int, int],
        options: DubOptions | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        resume: LoopState | None = None,
        on_window: WindowCallback | None = None,
        frames: tuple[int, int] | None = None,
        source: MediaScan | None = None,
        track_cache: Path | None = None,
    ) -> LoopState:
        """Denoise windows ``[a, b)`` of a split take (one segment, started fresh at ``a``;
        ``resume``: its own checkpoint), without decoding or writing anything: the state
        ``xdub.sample.clips.assemble_segments`` joins with the other segments' for ``run``.
        Arguments as ``run``."""
        first, stop = segment
        start = resume if resume is not None else LoopState(first_window=first)
        if start.first_window != first or not first <= start.windows_done <= stop:
            raise ValueError(f"the state of window {start.windows_done} is not in {segment}")
        call = _Call(
            Path(video),
            Path(audio),
            Path(),
            options or DubOptions(),
            resume=start,
            on_window=on_window,
            frames=frames,
            track_cache=track_cache,
        )
        progress = ProgressReporter(on_progress, cancel)
        try:
            with self._opened(call, source, progress, keep_frames=False) as take:
                num_windows = self.plan.num_clips(take.windows.inputs.total_length)
                if stop > num_windows:
                    raise JobError(
                        f"windows {first}..{stop} are not in a take of {num_windows} windows",
                        code="bad_range",
                        hint="a segment plan fits only the take (clip and dialogue) it was "
                        "made for",
                    )
                assert not isinstance(take.frames, FrameRing)
                return denoise_windows(take.windows, take.frames, progress, stop)
        except torch.OutOfMemoryError as error:
            raise _out_of_memory(error, self.models.device) from error
        finally:
            self.models.residency.release()

    def _run(self, call: _Call, source: MediaScan | None, progress: ProgressReporter) -> DubResult:
        with self._opened(call, source, progress, keep_frames=True) as take:
            assert take.frames is not None
            state, written = make_take(take.windows, take.frames, progress)
        return DubResult(
            output=call.output,
            num_frames=written,
            num_windows=state.windows_done,
            face_boxes=take.windows.track.boxes,
            warnings=tuple(take.dialogue.warnings),
            is_test_weights=self.models.is_test_weights,
            speed=speed_metadata(take.speed, take.compile_state, take.windows.stats),
            track=take.windows.track,
        )

    @contextmanager
    def _opened(
        self,
        call: _Call,
        source: MediaScan | None,
        progress: ProgressReporter,
        *,
        keep_frames: bool,
    ) -> Iterator[_OpenTake]:
        """A take made ready for its windows: planned, its face tracked (or read from
        ``call.track_cache``), its audio encoded, its crop store and source frames open in a
        work folder (removed on exit). ``keep_frames``: spool the landmark pass's frames for
        the paste (off where nothing is pasted)."""
        options, models = call.options, self.models
        progress.stage(Stage.PREPARE)
        if call.output != Path():
            call.output.parent.mkdir(parents=True, exist_ok=True)
            take_settings(options).check_path(call.output)
        plan = plan_take(source or scan_media(call.video), call.frames)
        dialogue = load_dialogue(call.audio, plan.info.duration_s)
        speed = plan_for_options(
            options, models.crop_size, models.device, self.vram_policy, dialogue.warnings
        )
        compile_state = self.speedups.apply(speed)
        with (
            tempfile.TemporaryDirectory(prefix="xdub-", dir=self.work_dir) as work,
            ExitStack() as held,
        ):
            progress.stage(Stage.FACE_TRACK)
            track = call.track or _read_track(plan, call.track_cache)
            spool: FrameSpool | None = None
            if track is None:  # the landmark pass decodes the source: spool it for the rest
                spool = open_spool(plan, Path(work), self.spool) if keep_frames else None
                if spool is not None:
                    held.enter_context(spool)
                track = self._track(plan, options, progress, spool)
                if call.track_cache is not None:
                    save_track(call.track_cache, track)
            _check_track(track, plan)
            progress.stage(Stage.AUDIO_FEATURES)
            features = self._audio_features(dialogue.samples_16k)
            total_length = self.plan.total_length(audio_frame_count(len(dialogue.samples_16k)))
            order = pingpong_indices(plan.num_model_frames, total_length)
            segment_starts = _segment_starts(call, self.plan.num_clips(total_length))
            crops = CropStore(Path(work) / "crops.npy", plan.num_model_frames, speed.crop_size)
            held.callback(crops.close)

            def ref_frames(start: int, stop: int) -> np.ndarray:
                return crops.frames(order[start:stop])

            windows = TakeWindows(
                models=models,
                windows=self.plan,
                plan=plan,
                track=track,
                crops=crops,
                crop_size=speed.crop_size,
                inputs=LoopInputs(
                    ref_frames=ref_frames,
                    whisper=features.whisper,
                    wav2vec=features.wav2vec,
                    total_length=total_length,
                    seed=noise_seed(options),
                    independent_noise=options.independent_noise,
                ),
                settings=SamplerSettings(
                    num_steps=speed.num_steps,
                    guidance=GuidanceScales(options.ref_cfg_scale, options.audio_cfg_scale),
                    guidance_reuse=speed.guidance_reuse,
                    step_cache_threshold=speed.step_cache_threshold,
                ),
                indicator=ModulatedInput(models.dit) if speed.step_cache_threshold > 0 else None,
                stats=SamplingStats(),
                dialogue=dialogue,
                output=call.output,
                take=take_settings(options),
                resume=call.resume,
                on_window=call.on_window,
                overlap=self.overlap,
                segment_starts=segment_starts,
            )
            frames: FrameRing | FrameSpool | None = spool
            if frames is None and keep_frames:
                frames = FrameRing(
                    Path(work) / "frames.rgb",
                    ring_capacity(plan, self.plan, total_length),
                    plan.info.display_height,
                    plan.info.display_width,
                )
                held.callback(frames.close)
            yield _OpenTake(windows, frames, dialogue, speed, compile_state)

    # -- stages ------------------------------------------------------------------------------

    def _track(
        self,
        plan: TakePlan,
        options: DubOptions,
        progress: ProgressReporter,
        spool: FrameSpool | None,
    ) -> FaceTrack:
        tracker = FaceTracker(
            self.models.face,
            speaker=speaker_choice(
                options, frame_size=(plan.info.display_width, plan.info.display_height)
            ),
            min_face_score=0.0 if self.models.is_test_weights else MIN_FACE_SCORE,
            missing_face=options.missing_face,
        )
        total = plan.num_model_frames
        with self.models.residency.stage("face"):
            return tracker.track(
                model_frames(plan, spool),
                fps=float(MODEL_FPS),
                on_frames=lambda done: progress.report(done / total),
            )

    def _audio_features(self, samples_16k: np.ndarray) -> AudioFeatures:
        encoder = self.models.audio
        cache = self.feature_cache
        features = cache.get(samples_16k, encoder.identity) if cache is not None else None
        if features is None:
            with self.models.residency.stage("audio"):
                features = encoder.encode(samples_16k)
            if cache is not None:
                cache.put(samples_16k, encoder.identity, features)
        return features


@dataclass(frozen=True)
class _Call:
    """The arguments of one ``DubPipeline.run``."""

    video: Path
    audio: Path
    output: Path
    options: DubOptions
    resume: LoopState | None = None
    on_window: WindowCallback | None = None
    frames: tuple[int, int] | None = None
    track: FaceTrack | None = None
    track_cache: Path | None = None
    segments: SegmentPlan | None = None


@dataclass(frozen=True)
class _OpenTake:
    """A take ready for its windows (``DubPipeline._opened``)."""

    windows: TakeWindows
    frames: FrameRing | FrameSpool | None
    """The source frames for the paste (None: not kept, crops are decoded as needed)."""
    dialogue: Dialogue
    speed: SpeedPlan
    compile_state: dict[str, Any]


def _out_of_memory(error: torch.OutOfMemoryError, device: torch.device) -> JobError:
    return JobError(
        f"out of GPU memory on {device}: {error}".splitlines()[0],
        code="out_of_memory",
        hint="close other GPU programs, or choose the VRAM policy 'offload' or "
        "'low_vram' (`xdub daemon` setting vram_policy, or `xdub dub --vram-policy`)",
    )


def _segment_starts(call: _Call, num_windows: int) -> tuple[int, ...]:
    """The windows that start a segment (a segment run's own first window included); a plan
    of another take is ``bad_range``."""
    resume, segments = call.resume, call.segments
    own = (resume.first_window,) if resume is not None and resume.first_window else ()
    if segments is None:
        return own
    if segments.num_windows != num_windows:
        raise JobError(
            f"the segment plan is for {segments.num_windows} windows, the take has {num_windows}",
            code="bad_range",
            hint="a segment plan fits only the take (clip and dialogue) it was made for",
        )
    return (*own, *segments.starts[1:])


def _read_track(plan: TakePlan, cache: Path | None) -> FaceTrack | None:
    """The face track ``cache`` holds for this take, if any."""
    track = read_cached_track(cache, plan.num_model_frames) if cache is not None else None
    if track is not None:
        log.info("face track read from %s", cache)
    return track


def _check_track(track: FaceTrack, plan: TakePlan) -> None:
    if len(track.boxes) != plan.num_model_frames:
        raise MediaError(
            f"the crop track has {len(track.boxes)} frames, the take {plan.num_model_frames}",
            code="bad_range",
            hint="a stored crop track fits only the frames it was made for",
        )

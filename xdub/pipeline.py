"""``DubPipeline``: a clip plus new dialogue in, an editor-ready dubbed take out.

Orchestration only; each stage lives in its own module:

1. probe the clip and plan the 25 fps model frames by timestamp (``xdub.media``);
2. track the speaker's face over the model frames (``xdub.face.track``);
3. crop 512x512 faces into a memory-mapped store (``xdub.face.crop_store``);
4. load the dialogue, fit it to the clip's length, and encode audio features (``xdub.audio``);
5. denoise the 77-frame windows (``xdub.sample.clips``);
6. decode, colour-correct, blend, paste into every original frame and write (``xdub.take``).

The source is decoded three times (landmarks, crops, paste-back): the crop boxes need the whole
clip's landmarks first, and holding full-resolution frames would make memory grow with length.
The first two passes convert to RGB only the frames the 25 fps model sees (``Frame.rgb`` is
lazy), and at 1080p the conversion is two thirds of a frame's cost, the decode one third.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xdub.audio.cache import FeatureCache
from xdub.audio.features import AudioFeatures
from xdub.errors import JobError, MediaError
from xdub.face.crop import crop_face
from xdub.face.crop_store import CropStore
from xdub.face.paste import blend_border
from xdub.face.track import FaceTrack, FaceTracker
from xdub.media.audio import MODEL_SAMPLE_RATE_HZ, fit_audio_length, load_audio
from xdub.media.conform import conform_times, covering_target_frames
from xdub.media.decode import iter_frames
from xdub.media.encode import TakeAudio
from xdub.media.fps import MODEL_FPS
from xdub.media.probe import MediaInfo, probe
from xdub.media.timestamps import frame_times
from xdub.model.bundle import ModelBundle
from xdub.options import DubOptions, noise_seed, speaker_choice, take_settings
from xdub.progress import ProgressCallback, ProgressReporter
from xdub.protocol.records import Stage, VramPolicy
from xdub.protocol.timecode import shift_timecode
from xdub.sample.clips import LoopInputs, LoopState, decode_take, run_windows, stitched_latents
from xdub.sample.denoise import SamplerSettings
from xdub.sample.guidance import GuidanceScales
from xdub.sample.step_cache import SamplingStats
from xdub.sample.windows import WindowPlan, audio_frame_count, pingpong_indices
from xdub.speed.apply import DitSpeedups
from xdub.speed.indicator import ModulatedInput
from xdub.speed.plan import SpeedPlan, plan_for_options, speed_metadata
from xdub.take import write_take

log = logging.getLogger(__name__)

TAKE_SAMPLE_RATE_HZ = 48000
"""The take's audio rate: the replacement dialogue, mono, resampled to 48 kHz for editors."""

MIN_FACE_SCORE = 0.3
"""Mean face-landmark score (RTMW score / 10) below which a frame counts as faceless; the
reference's own "unseen" threshold. Test weights are uncalibrated, so they skip the check."""

LENGTH_NOTICE_S = 0.04
"""Dialogue and clip lengths differing by more than one frame (at 25 fps) earn a warning."""

WindowCallback = Callable[[int, int, LoopState], None]


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

    @property
    def is_draft(self) -> bool:
        return bool(self.speed.get("is_draft"))


@dataclass(frozen=True)
class _Plan:
    """Where each model frame comes from and where each source frame's face goes."""

    info: MediaInfo
    """The take's format: the source's, over the dubbed frames only (duration, timecode)."""
    first_frame: int
    """Index of the first dubbed frame in the file."""
    model_sources: list[int]
    """Per 25 fps model frame, the file index of the source frame shown at its start."""
    covering: list[int]
    """Per dubbed source frame, the model frame whose interval holds its timestamp."""

    @property
    def num_model_frames(self) -> int:
        return len(self.model_sources)


@dataclass
class _Dialogue:
    samples_16k: np.ndarray
    take_audio: TakeAudio
    warnings: list[str] = field(default_factory=list)


class DubPipeline:
    """Dubs takes with the models of one folder, loaded once and kept for every call.

    ``device``: ``"auto"`` (CUDA, then MPS, then CPU) or a torch device name; ``precision``:
    ``"auto"`` (bf16 on accelerators, fp32 on the CPU), ``"bf16"`` or ``"fp32"``;
    ``vram_policy``: where the weights wait between stages (``xdub.protocol.records.VramPolicy``);
    ``face_backend``: ``"builtin"`` or ``"openmmlab"`` landmark networks (``xdub.face.backends``);
    ``compile``: regional ``torch.compile`` of the DiT blocks, ``"auto"`` (CUDA only), ``"on"``
    or ``"off"``; ``cuda_graphs``: compile with CUDA graphs (CUDA, not under ``low_vram``).
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
    ) -> None:
        self.models = ModelBundle.load(
            Path(model_dir),
            device=device,
            precision=precision,
            vram_policy=vram_policy,
            face_backend=face_backend,
        )
        self.feature_cache = feature_cache
        self.work_dir = work_dir
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
    ) -> DubResult:
        """Dub ``video`` with ``audio`` into ``output`` (written atomically).

        ``frames``: ``(first, count)`` file frame indices to dub (default: the whole file); the
        take holds exactly those frames, its timecode shifted to the first one.

        ``resume``/``on_window``: continue from, and checkpoint, the state after each window,
        so an interrupted take resumes and yields the same frames. Raises ``JobCancelled``
        when ``cancel`` is set, ``MediaError``/``ModelError`` for problems the user can fix.
        """
        try:
            return self._run(
                video, audio, output, options, on_progress, cancel, resume, on_window, frames
            )
        except torch.OutOfMemoryError as error:
            raise JobError(
                f"out of GPU memory on {self.models.device}: {error}".splitlines()[0],
                code="out_of_memory",
                hint="close other GPU programs, or choose the VRAM policy 'offload' or "
                "'low_vram' (`xdub daemon` setting vram_policy, or `xdub dub --vram-policy`)",
            ) from error
        finally:
            self.models.residency.release()

    def _run(
        self,
        video: Path,
        audio: Path,
        output: Path,
        options: DubOptions | None,
        on_progress: ProgressCallback | None,
        cancel: threading.Event | None,
        resume: LoopState | None,
        on_window: WindowCallback | None,
        frames: tuple[int, int] | None,
    ) -> DubResult:
        options = options or DubOptions()
        video, audio, output = Path(video), Path(audio), Path(output)
        progress = ProgressReporter(on_progress, cancel)
        progress.stage(Stage.PREPARE)
        output.parent.mkdir(parents=True, exist_ok=True)
        take_settings(options).check_path(output)
        plan = _plan_frames(video, frames)
        dialogue = _load_dialogue(audio, plan.info.duration_s)
        models = self.models
        speed = plan_for_options(
            options, models.crop_size, models.device, self.vram_policy, dialogue.warnings
        )
        compile_state = self.speedups.apply(speed)
        stats = SamplingStats()
        with tempfile.TemporaryDirectory(prefix="xdub-", dir=self.work_dir) as work:
            progress.stage(Stage.FACE_TRACK)
            track = self._track(video, plan, options, progress)
            crop_path = Path(work) / "crops.npy"
            crops = self._crop(video, plan, track, crop_path, speed.crop_size, progress)
            progress.stage(Stage.AUDIO_FEATURES)
            features = self._audio_features(dialogue.samples_16k)
            total_length = self.plan.total_length(audio_frame_count(len(dialogue.samples_16k)))
            order = pingpong_indices(plan.num_model_frames, total_length)

            def ref_frames(start: int, stop: int) -> np.ndarray:
                return crops.frames(order[start:stop])

            inputs = LoopInputs(
                ref_frames=ref_frames,
                whisper=features.whisper,
                wav2vec=features.wav2vec,
                total_length=total_length,
                seed=noise_seed(options),
                independent_noise=options.independent_noise,
            )
            state = self._denoise(inputs, options, speed, stats, progress, resume, on_window)
            progress.stage(Stage.WRITE_TAKE)
            with self.models.residency.stage("vae"):
                faces = self._faces(state, inputs, crops, progress)
                written = _write(video, output, plan, track, faces, dialogue, options, progress)
            crops.close()
        return DubResult(
            output=output,
            num_frames=written,
            num_windows=state.windows_done,
            face_boxes=track.boxes,
            warnings=tuple(dialogue.warnings),
            is_test_weights=self.models.is_test_weights,
            speed=speed_metadata(speed, compile_state, stats),
        )

    # -- stages ------------------------------------------------------------------------------

    def _track(
        self, video: Path, plan: _Plan, options: DubOptions, progress: ProgressReporter
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
                _model_frames(video, plan),
                fps=float(MODEL_FPS),
                on_frames=lambda done: progress.report(done / total),
            )

    def _crop(
        self,
        video: Path,
        plan: _Plan,
        track: FaceTrack,
        path: Path,
        size: int,
        progress: ProgressReporter,
    ) -> CropStore:
        crops = CropStore(path, plan.num_model_frames, size)
        for index, frame in enumerate(_model_frames(video, plan)):
            crops[index] = crop_face(frame, track.boxes[index], size)
            if index % 25 == 0:
                progress.check_cancel()
        return crops

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

    def _denoise(
        self,
        inputs: LoopInputs,
        options: DubOptions,
        speed: SpeedPlan,
        stats: SamplingStats,
        progress: ProgressReporter,
        resume: LoopState | None,
        on_window: WindowCallback | None,
    ) -> LoopState:
        progress.stage(Stage.DENOISE)
        settings = SamplerSettings(
            num_steps=speed.num_steps,
            guidance=GuidanceScales(options.ref_cfg_scale, options.audio_cfg_scale),
            guidance_reuse=speed.guidance_reuse,
            step_cache_threshold=speed.step_cache_threshold,
        )
        indicator = ModulatedInput(self.models.dit) if speed.step_cache_threshold > 0 else None

        def on_step(window: int, num_windows: int, step: int, num_steps: int) -> None:
            done = (window * num_steps + step) / (num_windows * num_steps)
            progress.report(
                done, clip=window + 1, num_clips=num_windows, step=step, num_steps=num_steps
            )

        with self.models.residency.stage("dit", "vae"):
            return run_windows(
                self.models.dit,
                self.models.vae,
                inputs,
                self.models.text,  # moves with the DiT: taken once the group is on the device
                settings,
                plan=self.plan,
                state=resume,
                dtype=self.models.dtype,
                on_step=on_step,
                on_window=on_window,
                indicator=indicator,
                stats=stats,
            )

    def _faces(
        self, state: LoopState, inputs: LoopInputs, crops: CropStore, progress: ProgressReporter
    ) -> Iterator[tuple[int, np.ndarray]]:
        latents = stitched_latents(state, self.plan)
        for first, frames in decode_take(
            self.models.vae, latents, inputs.ref_frames, inputs.total_length
        ):
            progress.check_cancel()
            yield first, blend_border(frames, inputs.ref_frames(first, first + len(frames)))


def _plan_frames(video: Path, frames: tuple[int, int] | None) -> _Plan:
    info = probe(video)
    all_times = frame_times(video).relative_s()
    first, count = frames or (0, len(all_times))
    if first < 0 or count < 1 or first + count > len(all_times):
        raise MediaError(
            f"{video}: frames {first}..{first + count - 1} are outside its {len(all_times)} frames",
            code="bad_range",
        )
    stop = first + count
    end_s = all_times[stop] if stop < len(all_times) else info.duration_s
    times = all_times[first:stop] - all_times[first]
    duration_s = float(end_s - all_times[first])
    model_sources = [first + i for i in conform_times(times, duration_s=duration_s)]
    covering = covering_target_frames(times, num_target=len(model_sources))
    timecode = info.timecode and shift_timecode(info.timecode, first, info.fps)
    take_info = replace(info, num_frames=count, duration_s=duration_s, timecode=timecode)
    return _Plan(take_info, first, model_sources, covering)


def _model_frames(video: Path, plan: _Plan) -> Iterator[np.ndarray]:
    """Upright source frames at the model's 25 fps, by timestamp (a frame may repeat or drop)."""
    wanted = iter(enumerate(plan.model_sources))
    index, source = next(wanted)
    for frame in iter_frames(video):
        while source == frame.index:
            yield frame.rgb
            step = next(wanted, None)
            if step is None:
                return
            index, source = step
    raise MediaError(
        f"{video}: decoding stopped at model frame {index} of {plan.num_model_frames}",
        code="truncated_media",
    )


def _load_dialogue(audio: Path, duration_s: float) -> _Dialogue:
    """The replacement dialogue fitted to the clip: padded with silence or trimmed (warned)."""
    samples = load_audio(audio, MODEL_SAMPLE_RATE_HZ)
    audio_s = len(samples) / MODEL_SAMPLE_RATE_HZ
    fitted, _ = fit_audio_length(samples, round(duration_s * MODEL_SAMPLE_RATE_HZ))
    warnings = []
    if abs(audio_s - duration_s) > LENGTH_NOTICE_S:
        change = "cut" if audio_s > duration_s else "filled with silence"
        warnings.append(
            f"the dialogue is {audio_s:.2f} s but the clip is {duration_s:.2f} s: "
            f"the last {abs(audio_s - duration_s):.2f} s of the take's audio were {change}"
        )
    take_samples = load_audio(audio, TAKE_SAMPLE_RATE_HZ)
    take_samples, _ = fit_audio_length(take_samples, round(duration_s * TAKE_SAMPLE_RATE_HZ))
    return _Dialogue(fitted, TakeAudio(take_samples, TAKE_SAMPLE_RATE_HZ), warnings)


def _write(
    video: Path,
    output: Path,
    plan: _Plan,
    track: FaceTrack,
    faces: Iterator[tuple[int, np.ndarray]],
    dialogue: _Dialogue,
    options: DubOptions,
    progress: ProgressReporter,
) -> int:
    num_frames = plan.info.num_frames
    return write_take(
        video,
        output,
        info=plan.info,
        faces=faces,
        boxes=track.boxes,
        has_face=track.has_face,
        first_frame=plan.first_frame,
        covering=plan.covering,
        audio=dialogue.take_audio,
        settings=take_settings(options),
        on_frame=lambda done: progress.report(done / num_frames),
    )

"""What every run of a job reads before the pipeline starts: the job, its options, the clip's
one probe and frame range, and its dialogue rendered to a WAV (the worker's ``run_job`` and a
split take's parts, ``xdub_daemon.split_parts``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xdub.protocol.records import DubOptions, Preset
from xdub_daemon.wire import WorkerSpec

if TYPE_CHECKING:
    from xdub.audio.cache import FeatureCache
    from xdub.job.timeline import DubJob
    from xdub.media.probe import MediaScan

DIALOGUE_WAV = "dialogue.wav"
AUDIO_CACHE_DIR = "audio-features"
"""A job folder's audio features, kept for ``make_final`` (a draft's) and for a split take's
parts (each reads the features its plan part encoded)."""


@dataclass(frozen=True)
class JobInputs:
    """A job read for a run: ``source`` is the clip's ``scan_media``, ``frames`` the
    ``(first, count)`` file frames it uses, ``audio`` its dialogue WAV."""

    job: DubJob
    options: DubOptions
    source: MediaScan
    frames: tuple[int, int]
    audio: Path


def read_job_inputs(spec: WorkerSpec, dialogue_dir: Path) -> JobInputs:
    """``spec``'s job, probed once, its dialogue written into ``dialogue_dir``."""
    from xdub.job.timeline import parse_job
    from xdub.media.mix import write_dialogue_wav
    from xdub.media.probe import scan_media
    from xdub_daemon.submit import file_frames

    job = parse_job(spec.otio)
    source = scan_media(job.video_path)  # the run's one probe, handed down
    audio = write_dialogue_wav(job.dialogue, dialogue_dir / DIALOGUE_WAV)
    options = DubOptions.from_json(spec.options)
    return JobInputs(job, options, source, file_frames(job, source), audio)


def feature_cache(job_dir: Path, options: DubOptions, *, keep: bool = False) -> FeatureCache | None:
    """The job folder's audio features: a draft keeps them for ``make_final`` (which copies
    them into the final job's folder), ``keep`` for a split take's parts; others encode
    without a cache unless the folder is there."""
    from xdub.audio.cache import FeatureCache

    folder = job_dir / AUDIO_CACHE_DIR
    if keep or options.preset is Preset.DRAFT or folder.is_dir():
        return FeatureCache(folder)
    return None

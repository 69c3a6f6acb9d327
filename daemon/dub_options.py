"""The protocol's ``JobOptions`` -> the pipeline's ``DubOptions``: the one place they meet."""

from __future__ import annotations

from xdub.face.speaker import SpeakerChoice, SpeakerRule
from xdub.media.codecs import TakeSettings
from xdub.options import DubOptions
from xdub.protocol.records import JobOptions, Speaker


def dub_options(options: JobOptions, *, frame_size: tuple[int, int]) -> DubOptions:
    """``options`` for the pipeline. ``frame_size``: the clip's upright (width, height) in px,
    to turn ``speaker_xy`` (0-1 of the first frame) into pixels. ``options.seed`` must be set
    (the daemon fixes a random one at submit, so a resumed job draws the same noise)."""
    if options.seed is None:
        raise ValueError("the job's seed must be fixed before it runs")
    speaker = SpeakerChoice()
    if options.speaker is Speaker.POINT and options.speaker_xy is not None:
        x, y = options.speaker_xy
        width, height = frame_size
        speaker = SpeakerChoice(rule=SpeakerRule.PICKED, point_xy=(x * width, y * height))
    return DubOptions(
        num_steps=options.num_steps,
        seed=options.seed,
        ref_guidance=options.ref_cfg_scale,
        audio_guidance=options.audio_cfg_scale,
        take=TakeSettings(codec=options.codec.value),
        speaker=speaker,
    )

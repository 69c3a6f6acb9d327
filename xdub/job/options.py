"""The pipeline's reading of the one options record, ``DubOptions`` (``xdub.protocol.records``).

The record is stdlib-only so that the daemon, the tray and the hosts' plugins build the same
object the pipeline runs; here it becomes the media and face settings the stages take.
"""

from __future__ import annotations

from xdub.face.speaker import SpeakerChoice, SpeakerRule
from xdub.media.codecs import TakeSettings
from xdub.protocol.records import DEFAULT_SEED, Codec, DubOptions, MissingFace, Speaker

__all__ = [
    "DEFAULT_SEED",
    "Codec",
    "DubOptions",
    "MissingFace",
    "Speaker",
    "noise_seed",
    "speaker_choice",
    "take_settings",
]


def noise_seed(options: DubOptions) -> int:
    """The seed the take's noise is drawn from."""
    return DEFAULT_SEED if options.seed is None else options.seed


def take_settings(options: DubOptions) -> TakeSettings:
    """How the take is encoded."""
    return TakeSettings(codec=options.codec.value, crf=options.crf)


def speaker_choice(options: DubOptions, *, frame_size: tuple[int, int]) -> SpeakerChoice:
    """Whom to dub. ``frame_size``: the clip's upright (width, height) in px, to turn
    ``speaker_xy`` (0-1 of the first frame) into pixels."""
    if options.speaker is Speaker.POINT and options.speaker_xy is not None:
        x, y = options.speaker_xy
        width, height = frame_size
        return SpeakerChoice(rule=SpeakerRule.PICKED, point_xy=(x * width, y * height))
    if options.speaker is Speaker.HIGHEST_SCORE:
        return SpeakerChoice(rule=SpeakerRule.HIGHEST_SCORE)
    return SpeakerChoice()

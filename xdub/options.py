"""Per-take options of the dubbing pipeline (everything that may change between two jobs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from xdub.errors import XdubError
from xdub.face.speaker import SpeakerChoice
from xdub.face.track import MissingFace
from xdub.media.codecs import TakeSettings


@dataclass(frozen=True)
class DubOptions:
    """How to dub one take. Defaults are the reference CLI's, with the README's 30 steps.

    ``seed``: noise seed; every window starts from the same noise (as the reference) unless
    ``independent_noise``, which draws window k's noise from ``seed + k``.
    ``ref_guidance`` / ``audio_guidance``: base scales of the triple CFG (dynamic schedule).
    Device and precision are the pipeline's (models stay loaded for them across takes).
    """

    num_steps: int = 30
    seed: int = 42
    ref_guidance: float = 2.5
    audio_guidance: float = 10.0
    independent_noise: bool = False
    take: TakeSettings = field(default_factory=TakeSettings)
    speaker: SpeakerChoice = field(default_factory=SpeakerChoice)
    missing_face: MissingFace = MissingFace.ERROR
    """Stretches without the speaker's face: refuse the take, or leave those frames untouched."""

    def __post_init__(self) -> None:
        if not 1 <= self.num_steps <= 1000:
            raise XdubError(f"num_steps {self.num_steps} is not in 1..1000", code="bad_options")
        if self.ref_guidance < 0 or self.audio_guidance < 0:
            raise XdubError("guidance scales must not be negative", code="bad_options")
        if self.seed < 0:
            raise XdubError(f"seed {self.seed} is negative", code="bad_options")

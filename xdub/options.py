"""Per-take options of the dubbing pipeline (everything that may change between two jobs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from xdub.errors import XdubError
from xdub.face.speaker import SpeakerChoice
from xdub.face.track import MissingFace
from xdub.media.codecs import TakeSettings
from xdub.protocol.records import Preset, Quality


@dataclass(frozen=True)
class DubOptions:
    """How to dub one take. Defaults are the reference CLI's, with the README's 30 steps.

    ``seed``: noise seed; every window starts from the same noise (as the reference) unless
    ``independent_noise``, which draws window k's noise from ``seed + k``.
    ``ref_guidance`` / ``audio_guidance``: base scales of the triple CFG (dynamic schedule).
    Device and precision are the pipeline's (models stay loaded for them across takes).
    Speed (``xdub.speed.plan``): ``quality`` exact or fast; ``preset`` draft overrides the
    steps, the internal crop and the quality; ``fp8`` None = where the GPU has it (fast only);
    ``step_cache_threshold`` None = the quality's default; ``guidance_reuse_period`` k > 1
    computes ``guidance_reuse_branch`` every k-th DiT pass only.
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
    quality: Quality = Quality.EXACT
    preset: Preset = Preset.FINAL
    fp8: bool | None = None
    step_cache_threshold: float | None = None
    guidance_reuse_period: int = 1
    guidance_reuse_branch: str = "nega"

    def __post_init__(self) -> None:
        if not 1 <= self.num_steps <= 1000:
            raise XdubError(f"num_steps {self.num_steps} is not in 1..1000", code="bad_options")
        if self.ref_guidance < 0 or self.audio_guidance < 0:
            raise XdubError("guidance scales must not be negative", code="bad_options")
        if self.seed < 0:
            raise XdubError(f"seed {self.seed} is negative", code="bad_options")
        if self.step_cache_threshold is not None and not 0 <= self.step_cache_threshold < 10:
            raise XdubError(
                f"step_cache_threshold {self.step_cache_threshold} is not in 0..10",
                code="bad_options",
            )
        if self.guidance_reuse_period < 1 or self.guidance_reuse_branch not in ("nega", "posi_r"):
            raise XdubError(
                "guidance_reuse_period must be >= 1 and guidance_reuse_branch nega or posi_r",
                code="bad_options",
            )

"""Step caching (TeaCache/MagCache-style): skip a DiT pass when its input barely changed.

Before each step an *indicator* is computed cheaply (normally the first block's modulated input
of the target tokens, see ``xdub.speed.indicator``). The relative L1 change of the indicator
from the previous step is accumulated; while the sum stays under ``threshold`` the step reuses
the last computed guided velocity instead of running the DiT, and the sum restarts at every
computed step. The first ``warmup_steps`` steps and the last step are always computed, and at
most ``max_skips`` steps in a row are skipped.

The rule (:meth:`StepCacheRule.decide`) is a pure function of the step index, the number of
steps and the accumulated change, so it can be tested on a crafted sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor

from xdub.sample.denoise import VelocityFn

IndicatorFn = Callable[[Tensor, Tensor], Tensor]
"""(latents (1, 48, F, h, w), model timestep (1,)) -> a tensor whose change predicts the DiT's."""


@dataclass(frozen=True)
class StepCacheRule:
    """When a step may reuse the previous velocity.

    threshold: accumulated relative L1 change under which a step is skipped (0 disables);
    warmup_steps: leading steps always computed; max_skips: longest run of skipped steps.
    """

    threshold: float
    warmup_steps: int = 2
    max_skips: int = 3

    def __post_init__(self) -> None:
        if self.threshold < 0 or self.warmup_steps < 1 or self.max_skips < 1:
            raise ValueError(f"bad step cache rule {self}")

    def decide(self, step: int, num_steps: int, accumulated: float, skips_in_a_row: int) -> bool:
        """True to compute step ``step`` (0-based) of ``num_steps``; False to reuse."""
        if self.threshold == 0 or step < self.warmup_steps or step == num_steps - 1:
            return True
        return accumulated >= self.threshold or skips_in_a_row >= self.max_skips


def relative_l1(current: Tensor, previous: Tensor) -> float:
    """``mean|current - previous| / mean|previous|`` in float32 (0 where previous is zero)."""
    scale = previous.float().abs().mean().item()
    change = (current.float() - previous.float()).abs().mean().item()
    return change / scale if scale > 0 else 0.0


@dataclass
class SamplingStats:
    """What a run's denoising did: steps computed and skipped, DiT branch passes run."""

    computed: int = 0
    skipped: int = 0
    branch_passes: int = 0
    """DiT passes of one CFG branch each (3 per computed step without guidance reuse)."""
    skipped_steps: list[tuple[int, int]] = field(default_factory=list)
    """(window, step) of every skipped step."""


class CachedVelocity:
    """A :data:`VelocityFn` that skips DiT passes by :class:`StepCacheRule`; one per window.

    ``velocity``: the real (guided) velocity; ``indicator``: its cheap change predictor;
    ``num_steps``: the window's steps (calls are counted as steps 0, 1, ...).
    """

    def __init__(
        self,
        velocity: VelocityFn,
        indicator: IndicatorFn,
        rule: StepCacheRule,
        num_steps: int,
        *,
        window: int = 0,
        stats: SamplingStats | None = None,
    ) -> None:
        self._velocity = velocity
        self._indicator = indicator
        self._rule = rule
        self._num_steps = num_steps
        self._window = window
        self.stats = stats if stats is not None else SamplingStats()
        self._step = 0
        self._previous: Tensor | None = None
        self._accumulated = 0.0
        self._skips_in_a_row = 0
        self._cached: Tensor | None = None

    def __call__(self, latents: Tensor, model_t: Tensor) -> Tensor:
        current = self._indicator(latents, model_t)
        if self._previous is not None:
            self._accumulated += relative_l1(current, self._previous)
        self._previous = current
        step, self._step = self._step, self._step + 1
        is_computed = self._cached is None or self._rule.decide(
            step, self._num_steps, self._accumulated, self._skips_in_a_row
        )
        if not is_computed:
            assert self._cached is not None
            self._skips_in_a_row += 1
            self.stats.skipped += 1
            self.stats.skipped_steps.append((self._window, step))
            return self._cached
        self._cached = self._velocity(latents, model_t)
        self._accumulated = 0.0
        self._skips_in_a_row = 0
        self.stats.computed += 1
        return self._cached

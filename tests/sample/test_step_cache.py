"""Step caching skips exactly the steps its rule says, and reuses the last computed velocity."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from xdub.sample.step_cache import CachedVelocity, SamplingStats, StepCacheRule, relative_l1


def test_rule_always_computes_warmup_and_last_step() -> None:
    rule = StepCacheRule(threshold=0.5, warmup_steps=2, max_skips=3)
    assert rule.decide(0, 10, 0.0, 0) and rule.decide(1, 10, 0.0, 0)
    assert not rule.decide(2, 10, 0.49, 0)
    assert rule.decide(2, 10, 0.5, 0)
    assert rule.decide(9, 10, 0.0, 0)  # the last step
    assert rule.decide(5, 10, 0.0, 3)  # max_skips reached
    assert StepCacheRule(threshold=0.0).decide(5, 10, 0.0, 0)  # 0 is off


def test_crafted_sequence_skips_exactly_the_rule_steps() -> None:
    # Indicator scalars whose relative changes are 0.1 from step to step, except one jump of 1.0
    # before step 6: accumulated 0.1, 0.2 (>= 0.15: compute), 0.1, 0.2, ..., then 1.0.
    values = [1.0, 1.1, 1.21, 1.331, 1.4641, 1.61051, 3.22102, 3.543122, 3.8974342, 4.28717762]
    indicators = iter(torch.tensor([v]) for v in values)
    calls: list[int] = []

    def velocity(latents: Tensor, model_t: Tensor) -> Tensor:
        calls.append(int(model_t.item()))
        return latents + model_t

    stats = SamplingStats()
    cached = CachedVelocity(
        velocity,
        lambda _latents, _t: next(indicators),
        StepCacheRule(threshold=0.15, warmup_steps=2, max_skips=3),
        len(values),
        window=1,
        stats=stats,
    )
    outputs = [cached(torch.zeros(1), torch.tensor([float(step)])) for step in range(len(values))]
    # steps 0, 1 warm-up; 2: acc 0.1 skip; 3: acc 0.2 compute; 4 skip; 5 compute; 6: jump 1.0
    # compute; 7 skip; 8 compute; 9 last step.
    assert calls == [0, 1, 3, 5, 6, 8, 9]
    assert stats.skipped_steps == [(1, 2), (1, 4), (1, 7)]
    assert (stats.computed, stats.skipped) == (7, 3)
    assert outputs[2] is outputs[1] and outputs[4] is outputs[3] and outputs[7] is outputs[6]


def test_max_skips_caps_a_run_of_reuses() -> None:
    calls: list[int] = []

    def velocity(latents: Tensor, model_t: Tensor) -> Tensor:
        calls.append(int(model_t.item()))
        return latents

    cached = CachedVelocity(
        velocity,
        lambda latents, _t: latents,  # never changes: every step could be skipped
        StepCacheRule(threshold=0.5, warmup_steps=1, max_skips=2),
        8,
    )
    for step in range(8):
        cached(torch.ones(1), torch.tensor([float(step)]))
    assert calls == [0, 3, 6, 7]


def test_relative_l1() -> None:
    assert relative_l1(torch.tensor([1.1, -2.2]), torch.tensor([1.0, -2.0])) == pytest.approx(0.1)
    assert relative_l1(torch.ones(2), torch.zeros(2)) == 0.0

"""Guidance reuse: the chosen branch runs every k-th pass, the others in a batch of 2."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from xdub.sample.denoise import GuidedVelocity
from xdub.sample.guidance import GuidanceReuse, GuidanceScales


class BranchModel:
    """Velocity = latents * t + ref + audio sum per row; records the batch of each call."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(
        self,
        latents: Tensor,
        timestep: Tensor,
        ref_latents: Tensor,
        context: object,
        audio_feats: Tensor,
        *,
        num_motion_latents: int = 0,
    ) -> Tensor:
        self.batches.append(ref_latents.shape[0])
        audio = audio_feats.sum(dim=(1, 2, 3)).view(-1, 1, 1, 1, 1)
        return latents * timestep + ref_latents + audio


def _velocity(model: BranchModel, reuse: GuidanceReuse) -> GuidedVelocity:
    ref = torch.full((1, 2, 1, 1, 1), 3.0)
    audio = torch.full((1, 1, 8, 4), 0.5)
    return GuidedVelocity(
        model, ref, audio, None, GuidanceScales(is_dynamic=False), num_motion_latents=0, reuse=reuse
    )


@pytest.mark.parametrize("branch,index", [("nega", 0), ("posi_r", 1)])
def test_reused_branch_runs_every_kth_pass(branch: str, index: int) -> None:
    model = BranchModel()
    velocity = _velocity(model, GuidanceReuse(period=3, branch=branch))
    exact = _velocity(BranchModel(), GuidanceReuse())
    latents = torch.ones(1, 2, 1, 1, 1)
    for step in range(7):
        t = torch.tensor([float(step + 1)])
        out = velocity.branches(latents, t)
        want = exact.branches(latents, t)
        fresh = [i for i in range(3) if i != index]
        torch.testing.assert_close(out[fresh], want[fresh], atol=0, rtol=0)
        stale_t = torch.tensor([float(step // 3 * 3 + 1)])  # the last pass that computed it
        torch.testing.assert_close(out[index], exact.branches(latents, stale_t)[index])
    assert model.batches == [3, 2, 2, 3, 2, 2, 3]
    assert velocity.passes == 17


def test_period_one_is_the_exact_path() -> None:
    model = BranchModel()
    velocity = _velocity(model, GuidanceReuse(period=1))
    for _ in range(4):
        velocity.branches(torch.ones(1, 2, 1, 1, 1), torch.tensor([5.0]))
    assert model.batches == [3, 3, 3, 3] and velocity.passes == 12


def test_bad_reuse_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="below 1"):
        GuidanceReuse(period=0)
    with pytest.raises(ValueError, match="nega or posi_r"):
        GuidanceReuse(period=2, branch="posi_ra")

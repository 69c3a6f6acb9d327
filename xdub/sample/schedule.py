"""Flow-matching schedule and Euler step ("Wan" template of the reference scheduler).

The sampler keeps no state: the pipeline owns the loop and passes the step index. Sigmas and
timesteps are float32 tables; the model, the guidance schedule and the border sigma see the
timestep cast to the pipeline dtype (bf16 in production), while the Euler step uses the float32
sigmas.
"""

from __future__ import annotations

import torch
from torch import Tensor

NUM_TRAIN_TIMESTEPS = 1000
DEFAULT_SHIFT = 5.0


def flow_sigmas(num_steps: int, shift: float = DEFAULT_SHIFT) -> Tensor:
    """Shifted sigmas ``shift*s/(1+(shift-1)*s)`` of ``linspace(1, 0, N+1)[:-1]``; (N,) float32.

    The sigma after the last step is 0 and is not in the table (see ``sigma_interval``).
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    sigmas = torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float32)[:-1]
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def timesteps(sigmas: Tensor) -> Tensor:
    """Scheduler timesteps ``1000*sigma``; same shape and dtype (float32) as ``sigmas``."""
    return sigmas * NUM_TRAIN_TIMESTEPS


def model_timestep(timestep: Tensor, dtype: torch.dtype) -> Tensor:
    """The (1,) timestep in ``dtype`` seen by model, guidance and border (bf16: 993.15 -> 992)."""
    return timestep.reshape(1).to(dtype)


def normalized_time(model_t: Tensor) -> Tensor:
    """``t = timestep/1000`` in the timestep's own dtype (every op rounds in bf16)."""
    return model_t / NUM_TRAIN_TIMESTEPS


def sigma_interval(sigmas: Tensor, step_index: int) -> tuple[Tensor, Tensor]:
    """(sigma_i, sigma_{i+1}) as float32 0-dim tensors; sigma after the last step is 0."""
    num_steps = sigmas.shape[0]
    if not 0 <= step_index < num_steps:
        raise ValueError(f"step_index {step_index} outside 0..{num_steps - 1}")
    sigma = sigmas[step_index]
    is_last = step_index + 1 >= num_steps
    sigma_next = torch.zeros_like(sigma) if is_last else sigmas[step_index + 1]
    return sigma, sigma_next


def euler_step(
    sample: Tensor, velocity: Tensor, sigma: Tensor | float, sigma_next: Tensor | float
) -> Tensor:
    """One Euler step ``sample + velocity*(sigma_next - sigma)`` in ``sample``'s dtype.

    ``d = sigma_next - sigma`` is a float32 0-dim tensor that is not rounded to the sample dtype
    first; for bf16 the update is ``bf16(sample + bf16(float(velocity)*d))``, bit-exact to the
    reference. For float32 it is the plain float32 formula. Shapes: any, broadcastable.
    """
    d = torch.as_tensor(sigma_next, dtype=torch.float32) - torch.as_tensor(
        sigma, dtype=torch.float32
    )
    delta = (velocity.float() * d.to(velocity.device)).to(sample.dtype)
    return sample + delta

"""Deterministic DDIM sampler (eta = 0) on a strided grid; separate from the network."""

from __future__ import annotations

import torch
from torch import Tensor

from .schedule import NoiseSchedule

__all__ = ["DDIMSampler"]


class DDIMSampler:
    """DDIM reverse process on the grid ``{0, stride, 2 stride, ...} < T``.

    Usage: ``s = DDIMSampler(schedule); s.set_timesteps(stride=10)``; start each packet at
    ``s.snap(tstar)`` and call ``s.step(eps, t, x_t)`` with per-sample ``t`` (LongTensor);
    ``s.prev(t)`` gives the next grid step (``-1`` = clean, i.e. the returned x is x0_hat).
    """

    def __init__(self, schedule: NoiseSchedule | None = None, stride: int = 10):
        self.schedule = schedule or NoiseSchedule()
        self.set_timesteps(stride=stride)

    def set_timesteps(self, stride: int | None = None, num_inference_steps: int | None = None):
        """Define the grid by a stride or by a number of steps (stride = T // num)."""
        T = self.schedule.T
        if num_inference_steps is not None:
            stride = max(1, T // int(num_inference_steps))
        if stride is None or stride < 1:
            raise ValueError("stride must be >= 1")
        self.stride = int(stride)
        self.timesteps = torch.arange(0, T, self.stride, dtype=torch.long).flip(0)
        return self.timesteps

    def snap(self, tstar: Tensor) -> Tensor:
        """Nearest grid point to t* (ties go up), clamped to the grid."""
        tstar = torch.as_tensor(tstar, dtype=torch.long)
        snapped = torch.div(tstar + self.stride // 2, self.stride, rounding_mode="floor")
        top = int(self.timesteps.max())
        return (snapped * self.stride).clamp(0, top)

    def prev(self, t: Tensor) -> Tensor:
        """Previous grid step below ``t`` (``-1`` after step 0)."""
        return torch.as_tensor(t, dtype=torch.long) - self.stride

    def predict_x0(self, eps: Tensor, t: Tensor, x_t: Tensor) -> Tensor:
        a = self.schedule.abar_at(t, x_t.dtype).to(x_t.device).view(-1, *([1] * (x_t.dim() - 1)))
        return (x_t - (1.0 - a).sqrt() * eps) / a.sqrt()

    def step(self, eps: Tensor, t: Tensor, x_t: Tensor, t_prev: Tensor | None = None) -> Tensor:
        """One deterministic DDIM update x_t -> x_{t_prev} (per-sample t; t_prev=-1: x0)."""
        t = torch.as_tensor(t, dtype=torch.long)
        t_prev = self.prev(t) if t_prev is None else torch.as_tensor(t_prev, dtype=torch.long)
        shape = (-1, *([1] * (x_t.dim() - 1)))
        a_prev = self.schedule.abar_at(t_prev.clamp(min=-1), x_t.dtype).to(x_t.device).view(shape)
        x0 = self.predict_x0(eps, t, x_t)
        return a_prev.sqrt() * x0 + (1.0 - a_prev).sqrt() * eps

    def sample(self, eps_fn, x_t: Tensor, tstar: Tensor) -> Tensor:
        """Run every packet from its snapped t* down to x0_hat; batched, loops over steps only.

        ``eps_fn(x, t, idx)`` returns the noise estimate for the sub-batch ``idx`` (LongTensor
        of packet indices active at this step) with per-sample steps ``t``.
        """
        start = self.snap(tstar).to(x_t.device)
        x = x_t.clone()
        for g in self.timesteps.tolist():
            idx = torch.nonzero(start >= g, as_tuple=False).flatten()
            if idx.numel() == 0:
                continue
            tt = torch.full((idx.numel(),), g, dtype=torch.long, device=x.device)
            eps = eps_fn(x[idx], tt, idx)
            x[idx] = self.step(eps, tt, x[idx])
        return x

"""Linear DDPM schedule, ESNR, the Eq. 24 transmitter step selection and self-noising.

All indices are zero-based: step ``t`` has ``abar[t] = prod_{s<=t} (1 - beta_s)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from semsim.models.common.units import db_to_lin, lin_to_db

__all__ = [
    "NoiseSchedule",
    "esnr_db",
    "select_tprime",
    "self_noise",
    "transmit_power",
]


@dataclass(frozen=True)
class NoiseSchedule:
    """Linear beta schedule (T steps, beta_1..beta_T linear), float64 master copies.

    ``abar`` is a float64 tensor of length ``T``; use :meth:`abar_at` to gather it for a
    batch of (long) steps in the dtype of your features.
    """

    T: int = 500
    beta_start: float = 1e-4
    beta_end: float = 0.02

    @property
    def betas(self) -> Tensor:
        return torch.linspace(self.beta_start, self.beta_end, self.T, dtype=torch.float64)

    @property
    def abar(self) -> Tensor:
        return torch.cumprod(1.0 - self.betas, dim=0)

    def abar_at(self, t: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """``abar[t]`` for a LongTensor of steps; ``t = -1`` means the clean signal (1.0)."""
        t = torch.as_tensor(t, dtype=torch.long)
        table = torch.cat([self.abar, torch.ones(1, dtype=torch.float64)])  # index -1 -> 1.0
        return table.to(t.device)[t].to(dtype)

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """Forward process x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (per-sample t)."""
        a = self.abar_at(t, x0.dtype).to(x0.device).view(-1, *([1] * (x0.dim() - 1)))
        return a.sqrt() * x0 + (1.0 - a).sqrt() * noise


def esnr_db(t: Tensor | int, schedule: NoiseSchedule | None = None) -> Tensor:
    """Equivalent SNR of step t for a unit-power x0: 10 log10(abar_t / (1 - abar_t))."""
    sch = schedule or NoiseSchedule()
    a = sch.abar_at(torch.as_tensor(t), torch.float64)
    return lin_to_db(a / (1.0 - a))


def select_tprime(
    tstar: Tensor | int, snr_db: Tensor | float, schedule: NoiseSchedule | None = None
) -> Tensor:
    """Eq. 24: the transmitter's self-noising step t' for target step t* and (estimated) SNR.

    Pure function. Solves ``abar_{t'} = abar_{t*} + 1/(1 + SNR)`` by taking the *largest*
    t' with ``abar_{t'} >= abar_{t*} + 1/(1 + SNR)`` (SNR linear). When no step qualifies
    (the channel alone is at least as noisy as step t*), t' = 0 (negligible self-noise).
    Broadcasts ``tstar`` against ``snr_db``; returns a LongTensor.
    """
    sch = schedule or NoiseSchedule()
    tstar = torch.as_tensor(tstar, dtype=torch.long)
    snr_db = torch.as_tensor(snr_db, dtype=torch.float64)
    tstar, snr_db = torch.broadcast_tensors(tstar, snr_db.to(tstar.device))
    abar = sch.abar.to(tstar.device)
    snr = db_to_lin(snr_db)
    rhs = abar[tstar.clamp(0, sch.T - 1)] + 1.0 / (1.0 + snr)
    # abar is strictly decreasing: #steps with abar >= rhs is the first index below rhs.
    count = (abar.view(*([1] * rhs.dim()), -1) >= rhs.unsqueeze(-1)).sum(-1)
    return (count - 1).clamp(min=0).to(torch.long)


def transmit_power(tstar: Tensor, tprime: Tensor, schedule: NoiseSchedule | None = None) -> Tensor:
    """Expected power of the self-noised signal, P_s = abar_{t*} + 1 - abar_{t'} (<= 1)."""
    sch = schedule or NoiseSchedule()
    return sch.abar_at(tstar) + 1.0 - sch.abar_at(tprime)


def self_noise(
    x0: Tensor,
    tstar: Tensor,
    tprime: Tensor,
    schedule: NoiseSchedule | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Self-noising transform: s = sqrt(abar_{t*}) x0 + sqrt(1 - abar_{t'}) eps (per packet).

    Received through AWGN of variance P_s / SNR (with P_s from :func:`transmit_power`), the
    total noise variance equals ``1 - abar_{t*}`` when t' comes from :func:`select_tprime`.
    """
    sch = schedule or NoiseSchedule()
    shape = (-1, *([1] * (x0.dim() - 1)))
    a_star = sch.abar_at(tstar, x0.dtype).to(x0.device).view(shape)
    a_pr = sch.abar_at(tprime, x0.dtype).to(x0.device).view(shape)
    gdev = generator.device if generator is not None else x0.device
    eps = torch.randn(x0.shape, generator=generator, device=gdev, dtype=x0.dtype).to(x0.device)
    return a_star.sqrt() * x0 + (1.0 - a_pr).clamp(min=0).sqrt() * eps

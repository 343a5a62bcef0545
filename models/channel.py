"""Torch channels for training and evaluating the models (one home for both families).

The simulator owns the physical channel (fading processes, mobility, timing; numpy); the
engine hands the codecs already-equalised symbols. These functions let ``models`` train
and evaluate without importing the simulator.

Convention (the project's one, :mod:`models.common.snr`): a packet is a row of real
features ``s`` (B, ...); the SNR is signal power over noise power per real dimension,
y = s + sqrt(P_s / snr) n with n ~ N(0, 1). ``P_s`` is given (``signal_power``) or measured
per packet. Complex symbols of unit average power packed as (Re, Im) reals have
P_s = ``COMPLEX_UNIT_POWER`` = 1/2 per real, so the same call gives Es/N0 = snr.
"""

from __future__ import annotations

import torch
from torch import Tensor

from semsim.models.common.snr import noise_std
from semsim.models.common.units import lin_to_db

__all__ = ["awgn", "rayleigh_equalized"]


def _noise_std(s: Tensor, snr_db: Tensor | float, signal_power: Tensor | float | None) -> Tensor:
    b = s.shape[0]
    snr_db = torch.as_tensor(snr_db, dtype=s.dtype, device=s.device)
    snr_db = snr_db.reshape(-1).expand(b) if snr_db.numel() == 1 else snr_db.reshape(b)
    if signal_power is None:
        p = s.pow(2).flatten(1).mean(1)
    else:
        p = torch.as_tensor(signal_power, dtype=s.dtype, device=s.device).reshape(-1).expand(b)
    return noise_std(snr_db, p).view(-1, *([1] * (s.dim() - 1)))


def awgn(s: Tensor, snr_db: Tensor | float, signal_power: Tensor | float | None = None,
         generator: torch.Generator | None = None) -> Tensor:
    """y = s + sqrt(P_s / snr) n per packet (B, ...); ``snr_db`` scalar or (B,).

    Noise is drawn on the CPU from ``generator`` and moved to ``s``'s device, so results do
    not depend on the device."""
    std = _noise_std(s, snr_db, signal_power)
    n = torch.randn(s.shape, generator=generator, dtype=s.dtype).to(s.device)
    return s + std * n


def rayleigh_equalized(s: Tensor, snr_db: Tensor | float,
                       signal_power: Tensor | float | None = None,
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Block Rayleigh fading, one gain h ~ CN(0, 1) per packet, zero-forcing equalised.

    After equalisation y/h = s + n/h: AWGN at the post-equalisation SNR = average SNR +
    10 log10 |h|^2 (n/h is circular, so only |h|^2 matters). Returns (y / h, that SNR in
    dB, (B,)).
    """
    b = s.shape[0]
    h2 = (torch.randn(b, generator=generator) ** 2 + torch.randn(b, generator=generator) ** 2) / 2
    h2 = h2.to(s.device, s.dtype).clamp(min=1e-6)
    snr_db = torch.as_tensor(snr_db, dtype=s.dtype, device=s.device).reshape(-1).expand(b)
    eff = snr_db + lin_to_db(h2)
    return awgn(s, eff, signal_power, generator), eff

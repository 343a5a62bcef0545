"""Tiny torch channels for training and evaluating DiffSem.

The simulator owns the full physical channel (fading processes, SNR traces, timing); the
engine calls the receivers in :mod:`models.diffsem.system` with already-received,
equalised features. These functions exist so that ``models`` can train and evaluate
without importing the simulator.

Convention: real features with unit mean power per real dimension; SNR is signal power
over noise power per real dimension, so y = s + sqrt(P_s / snr) n.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["awgn", "rayleigh_equalized"]


def _noise_std(s: Tensor, snr_db: Tensor | float, signal_power: Tensor | float | None) -> Tensor:
    b = s.shape[0]
    snr = torch.pow(10.0, torch.as_tensor(snr_db, dtype=s.dtype, device=s.device) / 10.0)
    snr = snr.reshape(-1).expand(b) if snr.numel() == 1 else snr.reshape(b)
    if signal_power is None:
        p = s.pow(2).flatten(1).mean(1)
    else:
        p = torch.as_tensor(signal_power, dtype=s.dtype, device=s.device).reshape(-1).expand(b)
    return (p / snr).sqrt().view(-1, *([1] * (s.dim() - 1)))


def awgn(s: Tensor, snr_db: Tensor | float, signal_power: Tensor | float | None = None,
         generator: torch.Generator | None = None) -> Tensor:
    """y = s + sqrt(P_s / snr) n per packet; ``signal_power`` defaults to the measured power."""
    std = _noise_std(s, snr_db, signal_power)
    n = torch.randn(s.shape, generator=generator, dtype=s.dtype).to(s.device)
    return s + std * n


def rayleigh_equalized(s: Tensor, snr_db: Tensor | float,
                       signal_power: Tensor | float | None = None,
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Block Rayleigh fading (one real-equivalent |h| per packet) with zero-forcing.

    Returns (y / h, post-equalisation SNR in dB = average SNR + 10 log10 |h|^2).
    """
    b = s.shape[0]
    h2 = (torch.randn(b, generator=generator) ** 2 + torch.randn(b, generator=generator) ** 2) / 2
    h2 = h2.to(s.device, s.dtype).clamp(min=1e-6)
    snr_db = torch.as_tensor(snr_db, dtype=s.dtype, device=s.device).reshape(-1).expand(b)
    eff = snr_db + 10.0 * torch.log10(h2)
    return awgn(s, eff, signal_power, generator), eff

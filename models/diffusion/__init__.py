"""Diffusion utilities for DiffSem: schedule, ESNR, Eq. 24 step selection, DDIM sampler."""

from .ddim import DDIMSampler
from .schedule import NoiseSchedule, esnr_db, select_tprime, self_noise, transmit_power

__all__ = [
    "DDIMSampler",
    "NoiseSchedule",
    "esnr_db",
    "select_tprime",
    "self_noise",
    "transmit_power",
]

"""Secrecy metrics of a broadcast to Bob with Eves listening (bit/s/Hz)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semsim.simulator.errors import check_range

__all__ = ["SecrecyConfig", "capacity_bps_hz", "secrecy_capacity_bps_hz"]


@dataclass(frozen=True)
class SecrecyConfig:
    """Target secrecy rate for the secrecy-outage flag, bit/s/Hz (0 .. 1000)."""

    target_rate_bps_hz: float = 0.5

    def __post_init__(self) -> None:
        check_range(self.target_rate_bps_hz, "target_rate_bps_hz", 0.0, 1000.0)


def capacity_bps_hz(snr_lin):
    """Shannon capacity log2(1 + snr) per channel use (broadcasts)."""
    return np.log2(1.0 + np.asarray(snr_lin, dtype=float))


def secrecy_capacity_bps_hz(snr_lin, is_eve: np.ndarray) -> np.ndarray:
    """Instantaneous secrecy capacity per receiver column of ``snr_lin`` (..., R), linear
    SNRs with Bob in column 0 and ``is_eve`` (R,) marking the Eves.

    Eve columns: max(0, log2(1 + snr_bob) - log2(1 + snr_eve)); Bob's column: the same
    against the strongest Eve (Bob's capacity when there is no Eve).
    """
    cap = capacity_bps_hz(snr_lin)
    bob = cap[..., :1]
    eves = cap[..., is_eve]
    best = eves.max(axis=-1, keepdims=True) if eves.shape[-1] else np.zeros_like(bob)
    return np.maximum(0.0, bob - np.where(is_eve, cap, best))

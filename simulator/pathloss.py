"""Path loss (free space, log-distance) and log-normal shadowing (Gudmundson-correlated)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from semsim.models.common.units import SPEED_OF_LIGHT_MPS
from semsim.simulator.errors import MAX_ABS_DB, MAX_COORD_M, MAX_STD_DB, check, check_range

__all__ = [
    "PropagationConfig",
    "free_space_path_loss_db",
    "log_distance_path_loss_db",
    "shadowing_correlation",
]


def free_space_path_loss_db(distance_m, carrier_hz):
    """Friis free-space path loss in dB: 20*log10(4*pi*d*f/c). Broadcasts."""
    d = np.asarray(distance_m, dtype=float)
    return 20.0 * np.log10(4.0 * math.pi * d * np.asarray(carrier_hz, dtype=float)
                           / SPEED_OF_LIGHT_MPS)


def log_distance_path_loss_db(distance_m, exponent, ref_distance_m, ref_loss_db):
    """Log-distance path loss in dB: PL(d0) + 10*n*log10(d/d0), with d clamped to >= d0."""
    d = np.maximum(np.asarray(distance_m, dtype=float), ref_distance_m)
    return ref_loss_db + 10.0 * np.asarray(exponent) * np.log10(d / ref_distance_m)


def shadowing_correlation(moved_m, decorrelation_m):
    """Gudmundson correlation exp(-moved/d_corr) of shadowing after moving ``moved_m``.

    ``decorrelation_m`` of 0 means "never decorrelates" (returns 1). Computed as
    exp(-moved * (1/d_corr)), the form the receiver bank has always used (same bits).
    """
    moved = np.asarray(moved_m, dtype=float)
    dc = np.asarray(decorrelation_m, dtype=float)
    with np.errstate(divide="ignore"):
        inv = np.where(dc > 0, 1.0 / dc, 0.0)
    return np.exp(-moved * inv)


@dataclass(frozen=True)
class PropagationConfig:
    """Large-scale propagation of a link.

    model: ``free_space`` (exponent 2, PL(d0) by Friis) or ``log_distance``.
    ref_loss_db: PL at ``ref_distance_m``; None -> Friis free-space loss at d0.
    shadowing_std_db: log-normal shadowing sigma (0 disables).
    shadowing_decorrelation_m: Gudmundson decorrelation distance; 0 -> shadowing drawn
    once per link and frozen.
    Bounds: exponent in (0, 10], ref_distance_m in [1 mm, 10 km], the rest as in
    :mod:`semsim.simulator.errors`.
    """

    model: Literal["free_space", "log_distance"] = "log_distance"
    exponent: float = 2.0
    ref_distance_m: float = 1.0
    ref_loss_db: float | None = None
    shadowing_std_db: float = 0.0
    shadowing_decorrelation_m: float = 50.0

    def __post_init__(self) -> None:
        check_range(self.exponent, "exponent", 0.0, 10.0, lo_open=True)
        check(self.model != "free_space" or self.exponent == 2.0, "exponent", self.exponent,
              "free_space has exponent 2; use model: log_distance for another exponent")
        check_range(self.ref_distance_m, "ref_distance_m", 1e-3, 1e4)
        check_range(self.ref_loss_db, "ref_loss_db", -MAX_ABS_DB, MAX_ABS_DB)
        check_range(self.shadowing_std_db, "shadowing_std_db", 0.0, MAX_STD_DB)
        check_range(self.shadowing_decorrelation_m, "shadowing_decorrelation_m", 0.0,
                    MAX_COORD_M)

    def reference_loss_db(self, carrier_hz: float) -> float:
        """PL(d0) in dB: the configured value or the free-space loss at d0."""
        if self.ref_loss_db is not None:
            return float(self.ref_loss_db)
        return float(free_space_path_loss_db(self.ref_distance_m, carrier_hz))

    def path_loss_db(self, distance_m, carrier_hz: float):
        """Path loss in dB at ``distance_m`` (broadcasts)."""
        return log_distance_path_loss_db(distance_m, self.exponent, self.ref_distance_m,
                                         self.reference_loss_db(carrier_hz))

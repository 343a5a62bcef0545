"""Per-receiver SNR estimators: perfect, pilot least squares, fixed bias, Gaussian error,
and outdated (perfect, reported to Alice after a feedback delay).

Every estimator is vectorised over receivers: ``estimate(snr_true_db, h, mean_snr_lin, z)``
with arrays of shape (..., R) and z (..., R, 2) standard normals from each receiver's own stream.
Bob's estimate is fed back to Alice after ``feedback_delay_s`` (see ``simulator.nodes``);
Eves keep theirs for their own decoders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from semsim.models.common.units import lin_to_db
from semsim.simulator.errors import MAX_ABS_DB, MAX_STD_DB, MAX_TIME_S, check, check_range

__all__ = [
    "BiasEstimator",
    "Estimator",
    "EstimatorConfig",
    "GaussianEstimator",
    "PerfectEstimator",
    "PilotLSEstimator",
    "pilot_ls_error_variance",
]


def pilot_ls_error_variance(num_pilots, mean_snr_lin):
    """E|h_hat - h|^2 of the LS estimate from ``num_pilots`` unit-power pilots: 1/(N snr)."""
    return 1.0 / (np.asarray(num_pilots, dtype=float) * np.asarray(mean_snr_lin, dtype=float))


class Estimator:
    """Estimates a receiver's instantaneous SNR (dB) for the current coherence block."""

    def estimate(self, snr_true_db: np.ndarray, h: np.ndarray, mean_snr_lin: np.ndarray,
                 z: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class PerfectEstimator(Estimator):
    """Knows the true SNR."""

    def estimate(self, snr_true_db, h, mean_snr_lin, z):
        return np.array(snr_true_db, dtype=float)


@dataclass(frozen=True)
class BiasEstimator(Estimator):
    """True SNR plus a fixed ``bias_db``."""

    bias_db: float = 0.0

    def estimate(self, snr_true_db, h, mean_snr_lin, z):
        return snr_true_db + self.bias_db


@dataclass(frozen=True)
class GaussianEstimator(Estimator):
    """True SNR plus N(bias_db, std_db^2) in dB."""

    std_db: float = 1.0
    bias_db: float = 0.0

    def estimate(self, snr_true_db, h, mean_snr_lin, z):
        return snr_true_db + self.bias_db + self.std_db * z[..., 0]


@dataclass(frozen=True)
class PilotLSEstimator(Estimator):
    """Least-squares channel estimate from ``num_pilots`` pilots at the data power:
    h_hat = h + e, e ~ CN(0, 1/(N * mean_snr)); the receiver knows its noise power, so
    snr_est = |h_hat|^2 * mean_snr. The error follows from the true SNR and N."""

    num_pilots: int = 8

    def estimate(self, snr_true_db, h, mean_snr_lin, z):
        std = np.sqrt(0.5 * pilot_ls_error_variance(self.num_pilots, mean_snr_lin))
        h_hat = h + std * (z[..., 0] + 1j * z[..., 1])
        return lin_to_db((h_hat.real**2 + h_hat.imag**2) * mean_snr_lin)

    def channel_estimate(self, h, mean_snr_lin, z):
        """h_hat for gains h (..., R) with normals z (..., R, 2); exposed for tests and codecs."""
        std = np.sqrt(0.5 * pilot_ls_error_variance(self.num_pilots, mean_snr_lin))
        return h + std * (z[..., 0] + 1j * z[..., 1])


@dataclass(frozen=True)
class EstimatorConfig:
    """SNR estimator of one receiver.

    kind: perfect | pilot_ls (num_pilots) | bias (bias_db) | gaussian (std_db, bias_db) |
    outdated (perfect, but needs feedback_delay_s > 0).
    feedback_delay_s: delay of Bob's report to Alice (ignored for Eves, who do not report).
    """

    kind: Literal["perfect", "pilot_ls", "bias", "gaussian", "outdated"] = "perfect"
    num_pilots: int = 8
    bias_db: float = 0.0
    std_db: float = 1.0
    feedback_delay_s: float = 0.0

    def __post_init__(self) -> None:
        check_range(self.num_pilots, "num_pilots", 1, 10**6)
        check_range(self.std_db, "std_db", 0.0, MAX_STD_DB)
        check_range(self.bias_db, "bias_db", -MAX_ABS_DB, MAX_ABS_DB)
        check_range(self.feedback_delay_s, "feedback_delay_s", 0.0, MAX_TIME_S)
        check(self.kind != "outdated" or self.feedback_delay_s > 0, "feedback_delay_s",
              self.feedback_delay_s, "kind: outdated needs a feedback delay > 0")

    def build(self) -> Estimator:
        """The estimator object (hashable, so equal configs share one vectorised call)."""
        if self.kind in ("perfect", "outdated"):
            return PerfectEstimator()
        if self.kind == "pilot_ls":
            return PilotLSEstimator(int(self.num_pilots))
        if self.kind == "bias":
            return BiasEstimator(float(self.bias_db))
        return GaussianEstimator(float(self.std_db), float(self.bias_db))

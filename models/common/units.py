"""Units: dB <-> linear, dBm <-> W, thermal noise. The only home for these conversions.

All functions accept Python floats or numpy arrays and broadcast; ``db_to_lin`` and
``lin_to_db`` also take torch tensors and return tensors (same dtype and device), so the
models convert with the same two functions as the engine.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "SPEED_OF_LIGHT_MPS",
    "THERMAL_NOISE_DBM_PER_HZ",
    "db_to_lin",
    "dbm_to_w",
    "lin_to_db",
    "thermal_noise_dbm",
    "w_to_dbm",
]

SPEED_OF_LIGHT_MPS = 299_792_458.0
THERMAL_NOISE_DBM_PER_HZ = -174.0  # k*T0 at T0 = 290 K, rounded as is customary


def _is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch")  # no torch import for numpy callers


def db_to_lin(x_db):
    """Power ratio in dB -> linear: 10**(x/10)."""
    if _is_tensor(x_db):
        return 10.0 ** (x_db / 10.0)
    return np.power(10.0, np.asarray(x_db, dtype=float) / 10.0)


def lin_to_db(x_lin):
    """Linear power ratio -> dB: 10*log10(x). Zero maps to -inf (no warning)."""
    if _is_tensor(x_lin):
        return 10.0 * x_lin.log10()
    x = np.asarray(x_lin, dtype=float)
    if x.ndim and x.size and np.minimum.reduce(x, axis=None) > 0:  # skip np.errstate
        return 10.0 * np.log10(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10.0 * np.log10(x)


def dbm_to_w(p_dbm):
    """Power in dBm -> watts."""
    return np.power(10.0, (np.asarray(p_dbm, dtype=float) - 30.0) / 10.0)


def w_to_dbm(p_w):
    """Power in watts -> dBm."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(p_w, dtype=float)) + 30.0


def thermal_noise_dbm(bandwidth_hz, noise_figure_db=0.0):
    """Receiver noise power in dBm: -174 dBm/Hz + 10*log10(bandwidth_hz) + noise_figure_db."""
    return THERMAL_NOISE_DBM_PER_HZ + 10.0 * np.log10(np.asarray(bandwidth_hz, dtype=float)) + (
        np.asarray(noise_figure_db, dtype=float)
    )

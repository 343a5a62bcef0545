"""Confidence intervals: the only home for them (summaries, sweeps, reports, evaluations).

``mean_ci``: Student-t over independent values (replicas); ``wilson_ci``: proportions
(accuracy, leakage, outage), always inside [0, 1]; ``block_bootstrap_ci``: means over
correlated values in order (packets of one run); ``bonferroni_level`` and
``widen_interval``: family-wise intervals over many metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["block_bootstrap_ci", "bonferroni_level", "mean_ci", "wilson_ci", "widen_interval"]


def _finite(values: Sequence[float] | np.ndarray) -> tuple[np.ndarray, float, int]:
    """(finite values, their mean (NaN when none), their count)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    return x, float(x.mean()) if x.size else float("nan"), int(x.size)


def mean_ci(values: Sequence[float] | np.ndarray, level: float = 0.95) -> tuple[float, float,
                                                                                float, int]:
    """(mean, lower, upper, n) of the finite ``values``; Student-t interval at ``level``.

    n < 2 gives an interval of NaN (no spread to estimate from)."""
    x, m, n = _finite(values)
    if n < 2:
        return m, float("nan"), float("nan"), n
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half, n


def wilson_ci(successes: float, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """(proportion, lower, upper): Wilson score interval of ``successes`` out of ``n`` at
    ``level``; always inside [0, 1] (NaN for n = 0)."""
    if n <= 0:
        return float("nan"), float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return p, max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def block_bootstrap_ci(values: Sequence[float] | np.ndarray, level: float = 0.95, *,
                       block_len: int | None = None, num_boot: int = 2000,
                       seed: int = 0, bounds: tuple[float, float] | None = None
                       ) -> tuple[float, float, float, int]:
    """(mean, lower, upper, n) of the finite ``values`` taken in order (e.g. packets, which
    are correlated through fading and mobility): percentile interval of a moving-block
    bootstrap (blocks of ``block_len`` consecutive values, default ~n^(1/3)), seeded.
    ``bounds`` clips the interval to the metric's range."""
    x, m, n = _finite(values)
    if n < 2:
        return m, float("nan"), float("nan"), n
    b = max(1, min(n, block_len or round(n ** (1 / 3))))
    num_blocks = -(-n // b)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - b + 1, size=(num_boot, num_blocks))
    csum = np.concatenate([[0.0], np.cumsum(x)])
    sums = (csum[starts + b] - csum[starts]).sum(axis=1)  # block sums, no index arrays
    means = sums / (num_blocks * b)
    lo, hi = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2])
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return m, float(lo), float(hi), n


def bonferroni_level(num_intervals: int, level: float = 0.95) -> float:
    """The level each of ``num_intervals`` intervals needs so that all of them contain their
    true values together with probability >= ``level`` (Bonferroni: 1 - (1 - level) / m)."""
    if num_intervals < 1:
        raise ValueError(f"num_intervals must be >= 1, got {num_intervals}")
    return 1.0 - (1.0 - level) / num_intervals


def widen_interval(value: float, low: float, high: float, level: float,
                   to_level: float) -> tuple[float, float]:
    """(low, high) of an interval around ``value`` at ``level`` rescaled to ``to_level``:
    each half-width times z(to_level) / z(level), for a close-to-normal estimate (the mean
    of many packets) whose percentile interval cannot reach that far into the tails (a
    2000-resample bootstrap at 99.97 %)."""
    z = float(stats.norm.ppf(0.5 + to_level / 2) / stats.norm.ppf(0.5 + level / 2))
    return value - (value - low) * z, value + (high - value) * z

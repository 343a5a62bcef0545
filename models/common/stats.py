"""Confidence intervals: the only home for them (summaries, sweeps, reports, evaluations)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["mean_ci"]


def mean_ci(values: Sequence[float] | np.ndarray, level: float = 0.95) -> tuple[float, float,
                                                                                float, int]:
    """(mean, lower, upper, n) of the finite ``values``; Student-t interval at ``level``.

    n < 2 gives an interval of NaN (no spread to estimate from)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    m = float(x.mean())
    if n < 2:
        return m, float("nan"), float("nan"), n
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return m, m - half, m + half, n

"""Confidence intervals against known values and closed forms."""

import math

import numpy as np
import pytest

from semsim.models.common.stats import block_bootstrap_ci, mean_ci, wilson_ci


@pytest.mark.parametrize("k,n,lo,hi", [
    (5, 10, 0.2366, 0.7634),   # textbook Wilson values
    (0, 20, 0.0, 0.1611),
    (20, 20, 0.8389, 1.0),
    (81, 263, 0.2553, 0.3662),
])
def test_wilson_known_values(k, n, lo, hi):
    p, a, b = wilson_ci(k, n)
    assert p == pytest.approx(k / n)
    assert a == pytest.approx(lo, abs=5e-4) and b == pytest.approx(hi, abs=5e-4)
    assert 0.0 <= a <= p <= b <= 1.0


def test_wilson_coverage_near_nominal():
    rng = np.random.default_rng(2)
    p, n = 0.9, 40
    hits = [(lambda r: r[1] <= p <= r[2])(wilson_ci(rng.binomial(n, p), n))
            for _ in range(4000)]
    assert 0.93 < np.mean(hits) < 0.97


def test_block_bootstrap_iid_matches_normal_theory():
    x = np.random.default_rng(3).standard_normal(4000)
    m, lo, hi, n = block_bootstrap_ci(x, block_len=1)
    assert n == 4000 and lo < m < hi
    assert (hi - lo) / 2 == pytest.approx(1.96 / math.sqrt(4000), rel=0.1)


def test_block_bootstrap_widens_for_correlated_packets():
    """AR(1) with rho = 0.8: the mean's standard error grows by sqrt((1 + rho)/(1 - rho)) = 3;
    blocks of 50 recover it, an iid bootstrap (blocks of 1) understates it."""
    rng = np.random.default_rng(4)
    rho, n = 0.8, 20000
    e = rng.standard_normal(n) * math.sqrt(1 - rho * rho)
    x = np.empty(n)
    x[0] = e[0]
    for i in range(1, n):
        x[i] = rho * x[i - 1] + e[i]
    _, lo1, hi1, _ = block_bootstrap_ci(x, block_len=1)
    _, lo, hi, _ = block_bootstrap_ci(x, block_len=50)
    want = 1.96 * 3 / math.sqrt(n)
    assert (hi - lo) / 2 == pytest.approx(want, rel=0.2)
    assert (hi1 - lo1) / 2 < 0.5 * want


def test_block_bootstrap_bounds_and_edge_cases():
    m, lo, hi, _ = block_bootstrap_ci([1.0] * 50 + [0.0], bounds=(0.0, 1.0))
    assert 0.0 <= lo <= m <= hi <= 1.0
    assert np.isnan(block_bootstrap_ci([])[0]) and np.isnan(block_bootstrap_ci([2.0])[1])
    assert np.isnan(mean_ci([2.0])[1])


def test_bonferroni_level_and_widened_interval():
    from semsim.models.common.stats import bonferroni_level, widen_interval

    assert bonferroni_level(1) == pytest.approx(0.95)
    assert bonferroni_level(200) == pytest.approx(1 - 0.05 / 200)
    with pytest.raises(ValueError, match="num_intervals"):
        bonferroni_level(0)
    # a normal mean's 95 % interval widened to 99.9 % equals the 99.9 % interval itself
    lo, hi = widen_interval(1.0, 1.0 - 1.959964 * 0.1, 1.0 + 1.959964 * 0.1, 0.95, 0.999)
    assert (lo, hi) == pytest.approx((1.0 - 3.290527 * 0.1, 1.0 + 3.290527 * 0.1), abs=1e-6)
    lo, hi = widen_interval(0.5, 0.4, 0.7, 0.95, 0.95)  # same level: unchanged (asymmetric)
    assert (lo, hi) == pytest.approx((0.4, 0.7))
    # m = 100 independent 95 %-covering normal estimates: the family interval covers all
    rng = np.random.default_rng(3)
    level = bonferroni_level(100)
    covered = 0
    for _ in range(400):
        est = rng.standard_normal(100)  # true value 0, standard error 1
        lo, hi = widen_interval(est, est - 1.959964, est + 1.959964, 0.95, level)
        covered += bool(np.all((lo <= 0) & (0 <= hi)))
    assert 0.92 <= covered / 400 <= 0.99

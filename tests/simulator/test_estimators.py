import numpy as np
import pytest

from semsim.models.common.units import lin_to_db
from semsim.simulator.errors import ScenarioError
from semsim.simulator.estimators import (
    BiasEstimator,
    EstimatorConfig,
    GaussianEstimator,
    PerfectEstimator,
    PilotLSEstimator,
)

N = 100_000


def _rayleigh(rng, n):
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)


@pytest.mark.parametrize("num_pilots", [1, 4, 16])
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_pilot_ls_error_variance_is_one_over_n_snr(num_pilots, snr_db):
    """Simulate LS on actual pilot symbols and compare with the estimator and 1/(N snr)."""
    rng = np.random.default_rng(num_pilots * 100 + int(snr_db))
    snr = 10 ** (snr_db / 10)
    h = _rayleigh(rng, N)
    # explicit pilots: y_i = h p_i + n_i, unit-power-per-real pilots (|p|^2 = 2),
    # complex noise variance 2/snr; LS: h_hat = sum(y p*) / sum |p|^2
    p = np.sqrt(2) * np.exp(1j * rng.uniform(0, 2 * np.pi, num_pilots))
    noise = np.sqrt(1 / snr) * (rng.standard_normal((N, num_pilots))
                                + 1j * rng.standard_normal((N, num_pilots)))
    y = h[:, None] * p + noise
    h_ls = (y @ p.conj()) / np.sum(np.abs(p) ** 2)
    explicit = np.mean(np.abs(h_ls - h) ** 2)
    est = PilotLSEstimator(num_pilots)
    h_hat = est.channel_estimate(h, np.full(N, snr), rng.standard_normal((N, 2)))
    model = np.mean(np.abs(h_hat - h) ** 2)
    predicted = 1 / (num_pilots * snr)
    assert abs(explicit / predicted - 1) < 0.03
    assert abs(model / predicted - 1) < 0.03


def test_pilot_ls_snr_error_shrinks_with_pilots_and_snr():
    rng = np.random.default_rng(5)
    h = _rayleigh(rng, N)
    spread = {}
    for n in (2, 8, 32):
        for snr_db in (0.0, 10.0, 20.0):
            snr = np.full(N, 10 ** (snr_db / 10))
            true_db = lin_to_db(snr * np.abs(h) ** 2)
            est = PilotLSEstimator(n).estimate(true_db, h, snr, rng.standard_normal((N, 2)))
            spread[n, snr_db] = np.median(np.abs(est - true_db))
    for snr_db in (0.0, 10.0, 20.0):
        assert spread[2, snr_db] > spread[8, snr_db] > spread[32, snr_db]
    for n in (2, 8, 32):
        assert spread[n, 0.0] > spread[n, 10.0] > spread[n, 20.0]
    # error power scales as 1/(N snr): 4x pilots ~ 6 dB less error power ~ half the spread
    assert 0.4 < spread[32, 10.0] / spread[8, 10.0] < 0.6


def test_perfect_bias_gaussian():
    rng = np.random.default_rng(6)
    true_db = rng.uniform(-5, 30, N)
    z = rng.standard_normal((N, 2))
    h, snr = np.ones(N), np.ones(N)
    np.testing.assert_array_equal(PerfectEstimator().estimate(true_db, h, snr, z), true_db)
    np.testing.assert_allclose(BiasEstimator(2.5).estimate(true_db, h, snr, z) - true_db, 2.5)
    err = GaussianEstimator(std_db=1.5, bias_db=-1.0).estimate(true_db, h, snr, z) - true_db
    assert abs(err.mean() + 1.0) < 0.02 and abs(err.std() / 1.5 - 1) < 0.02


def test_estimator_config_builds_and_validates():
    assert EstimatorConfig(kind="pilot_ls", num_pilots=4).build() == PilotLSEstimator(4)
    assert EstimatorConfig(kind="outdated", feedback_delay_s=1e-3).build() == PerfectEstimator()
    with pytest.raises(ScenarioError, match="feedback_delay_s"):
        EstimatorConfig(kind="outdated")
    with pytest.raises(ScenarioError, match="num_pilots"):
        EstimatorConfig(kind="pilot_ls", num_pilots=0)

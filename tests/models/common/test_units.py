import math

import numpy as np

from semsim.models.common.units import db_to_lin, dbm_to_w, lin_to_db, thermal_noise_dbm, w_to_dbm
from semsim.simulator.link_budget import mean_snr_db, noise_power_dbm

BOLTZMANN = 1.380649e-23


def test_db_round_trip_and_known_values():
    x = np.array([1e-3, 0.5, 1.0, 2.0, 1e6])
    np.testing.assert_allclose(db_to_lin(lin_to_db(x)), x, rtol=1e-12)
    np.testing.assert_allclose(lin_to_db([10.0, 100.0, 2.0]), [10.0, 20.0, 3.0103], atol=1e-4)
    assert lin_to_db(0.0) == -np.inf


def test_dbm_watts():
    np.testing.assert_allclose(dbm_to_w([0.0, 30.0, -30.0]), [1e-3, 1.0, 1e-6])
    np.testing.assert_allclose(w_to_dbm(dbm_to_w(17.3)), 17.3)


def test_thermal_noise_matches_ktb():
    for bandwidth in (1e3, 1e6, 20e6):
        ktb_dbm = 10 * math.log10(BOLTZMANN * 290.0 * bandwidth) + 30.0
        assert abs(thermal_noise_dbm(bandwidth) - ktb_dbm) < 0.05
    assert abs(noise_power_dbm(10e6, 7.0) - (-174.0 + 70.0 + 7.0)) < 1e-9


def test_link_budget_sums_terms():
    snr = mean_snr_db(10.0, 3.0, 2.0, 80.0, 4.0, -97.0)
    assert snr == 10.0 + 3.0 + 2.0 - 80.0 - 4.0 + 97.0

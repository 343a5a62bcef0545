import numpy as np

from semsim.simulator.secrecy import capacity_bps_hz, secrecy_capacity_bps_hz


def test_secrecy_capacity_per_eve_and_worst_case_for_bob():
    snr = np.array([[15.0, 3.0, 31.0], [7.0, 1.0, 0.0]])  # bob, eve_a, eve_b
    is_eve = np.array([False, True, True])
    cs = secrecy_capacity_bps_hz(snr, is_eve)
    np.testing.assert_allclose(cs, [[0.0, 2.0, 0.0], [2.0, 2.0, 3.0]])
    np.testing.assert_allclose(capacity_bps_hz([0.0, 1.0, 3.0]), [0.0, 1.0, 2.0])


def test_no_eve_means_bob_capacity():
    cs = secrecy_capacity_bps_hz(np.array([[3.0]]), np.array([False]))
    np.testing.assert_allclose(cs, [[2.0]])

"""Spatially correlated channels against their closed forms (1e4 blocks): Jakes J0(2 pi d /
lambda) between complex gains, Gudmundson exp(-d / d_corr) between shadowing; marginals
unchanged; receivers in no group untouched."""

import math

import numpy as np
import pytest
from scipy import special
from simhelpers import BASE, merge

from semsim.models.common.units import SPEED_OF_LIGHT_MPS
from semsim.simulator import spatial
from semsim.simulator.bank import ReceiverBank
from semsim.simulator.channels import Nakagami, Rayleigh, Rician
from semsim.simulator.mobility import Static
from semsim.simulator.scenario import parse_scenario
from semsim.simulator.traffic import TrafficSchedule

CARRIER_HZ = 2.4e9
LAMBDA_M = SPEED_OF_LIGHT_MPS / CARRIER_HZ
N = 10_000


def _rows(num, interval_s, bob, eve, propagation=None, column=None):
    sc = parse_scenario(merge(BASE, {
        "run": {"num_packets": num}, "link": {"carrier_hz": CARRIER_HZ},
        "alice": {"traffic": {"interval_s": interval_s}},
        "propagation": propagation or {}, "bob": bob, "eves": [eve]}))
    schedule = TrafficSchedule(sc.alice.traffic, np.random.default_rng(0), num, None)
    bank = ReceiverBank(sc, 9, 0, alice_traj=Static().build(), schedule=schedule,
                        lookahead=1024)
    x = np.zeros(2)
    obs = [bank.observe(k, x) for k in range(num)]
    if column is None:
        return np.array([o.gain for o in obs])
    return np.array([o.rows[column] for o in obs])


def _static(x, y, fading="rayleigh", **channel):
    return {"mobility": {"kind": "static", "position_m": [x, y]},
            "channel": {"fading": fading, "coherence_s": 1e-3,
                        "time_correlation": "independent", **channel}}


@pytest.mark.parametrize("d_lambda", [0.05, 0.2, 0.5, 1.0, 4.0])
def test_fading_correlation_follows_jakes(d_lambda):
    h = _rows(N, 1e-3, _static(40.0, 0.0), _static(40.0, d_lambda * LAMBDA_M))
    rho = np.real(np.vdot(h[:, 1], h[:, 0])) / N
    want = special.j0(2 * math.pi * d_lambda)
    assert abs(rho - want) < 0.035, (d_lambda, rho, want)
    assert abs(np.mean(np.abs(h) ** 2) - 1.0) < 0.04


@pytest.mark.parametrize("d_m", [0.5, 1.0, 2.0, 4.0])
def test_shadowing_correlation_follows_gudmundson(d_m):
    """Both receivers move together 5 m per packet (d_corr = 2 m), so each packet's
    shadowing is nearly a fresh draw; their correlation is exp(-d / d_corr)."""
    def mover(y):
        return {"mobility": {"kind": "constant_velocity", "position_m": [40.0, y],
                             "speed_mps": 50.0, "heading_deg": 90.0},
                "channel": {"fading": "awgn"}}

    s = _rows(N, 0.1, mover(0.0), mover(d_m), column="shadowing_db",
              propagation={"shadowing_std_db": 4.0, "shadowing_decorrelation_m": 2.0})
    r = np.corrcoef(s[:, 0], s[:, 1])[0, 1]
    assert abs(r - math.exp(-d_m / 2.0)) < 0.04, (d_m, r)
    assert abs(s[:, 1].std() / 4.0 - 1.0) < 0.04


@pytest.mark.parametrize("fading,model,extra", [
    ("rayleigh", Rayleigh(), {}), ("rician", Rician(k_factor=3.0), {"k_factor": 3.0}),
    ("nakagami", Nakagami(m=2.0), {"m": 2.0})])
def test_marginals_unchanged_for_a_correlated_receiver(fading, model, extra):
    h = _rows(N, 1e-3, _static(40.0, 0.0, fading, **extra),
              _static(40.0, 0.1 * LAMBDA_M, fading, **extra))
    p = np.abs(h[:, 1]) ** 2  # the Eve's gain is mixed with Bob's
    assert abs(p.mean() - 1.0) < 0.04
    assert abs(p.var() - model.power_variance()) < 0.08 * max(model.power_variance(), 0.1)
    assert abs(np.corrcoef(np.abs(h[:, 0]) ** 2, p)[0, 1]) > 0.5  # and correlated


def test_uncorrelated_receivers_are_left_alone():
    pos = np.array([[0.0, 0.0], [0.01, 0.0], [500.0, 0.0]])
    groups = spatial.mixing_groups(spatial.fading_correlation(pos, CARRIER_HZ), 0.01)
    assert [list(idx) for idx, _ in groups] == [[0, 1]]
    z = np.random.default_rng(1).standard_normal((5, 3))
    out = spatial.mix(z, groups)
    np.testing.assert_array_equal(out[:, 0], z[:, 0])  # first of a group: its own draw
    np.testing.assert_array_equal(out[:, 2], z[:, 2])  # in no group: untouched
    assert not np.allclose(out[:, 1], z[:, 1])


def test_off_is_the_independent_channel():
    """Spatial correlation off: two receivers 0.01 lambda apart fade independently."""
    bob, eve = _static(40.0, 0.0), _static(40.0, 0.01 * LAMBDA_M)
    sc_patch = {"spatial": {"shadowing": False, "fading": False}}
    sc = parse_scenario(merge(BASE, {"run": {"num_packets": N}, **sc_patch,
                                     "alice": {"traffic": {"interval_s": 1e-3}},
                                     "bob": bob, "eves": [eve]}))
    schedule = TrafficSchedule(sc.alice.traffic, np.random.default_rng(0), N, None)
    bank = ReceiverBank(sc, 9, 0, alice_traj=Static().build(), schedule=schedule)
    h = np.array([bank.observe(k, np.zeros(2)).gain for k in range(N)])
    assert abs(np.real(np.vdot(h[:, 1], h[:, 0])) / N) < 0.04


@pytest.mark.parametrize("num_receivers", [2, 9, 40, 64, 65, 150])
def test_components_equal_scipys_connected_components(num_receivers):
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(num_receivers)
    for _ in range(30):
        pos = rng.uniform(0.0, rng.uniform(1.0, 300.0), (num_receivers, 2))
        linked = spatial.shadowing_correlation_matrix(pos, np.full(num_receivers, 10.0)) >= 0.3
        num, label = connected_components(csr_matrix(linked), directed=False)
        want = [np.flatnonzero(label == g) for g in range(num)]
        got = spatial._components(linked)
        assert len(got) == len(want)
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_mixing_does_not_depend_on_the_blas_thread_count():
    """A large group (300 receivers) mixed under any OpenBLAS thread count equals the
    one-thread product bit for bit (a multi-threaded product sums in another order, so a
    leakage map's trace would depend on the machine's cores)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(3)
    c = np.exp(-np.abs(np.subtract.outer(np.arange(300.0), np.arange(300.0))) / 40.0)
    groups = spatial.mixing_groups(c, 0.01)
    assert len(groups) == 1 and len(groups[0][0]) == 300
    z = rng.standard_normal((256, 300))
    with threadpool_limits(1, user_api="blas"):
        expected = z @ groups[0][1].T
    for threads in (1, 2, 4):
        with threadpool_limits(threads, user_api="blas"):
            np.testing.assert_array_equal(spatial.mix(z, groups), expected)

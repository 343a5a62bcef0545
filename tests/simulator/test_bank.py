"""The receiver bank (link physics of every receiver) against closed forms: what runs in the
engine is ``channels.ar1_step`` / ``pathloss.shadowing_correlation``, so these statistics
check the code the traces come from."""

import math

import numpy as np
import pytest
from scipy import special
from simhelpers import BASE, merge

from semsim.simulator.bank import ReceiverBank
from semsim.simulator.mobility import Static
from semsim.simulator.scenario import parse_scenario
from semsim.simulator.traffic import TrafficSchedule


def _bank(num_packets, interval_s, bob, propagation=None):
    sc = parse_scenario(merge(BASE, {
        "run": {"num_packets": num_packets},
        "alice": {"traffic": {"interval_s": interval_s}},
        "propagation": propagation or {},
        "bob": bob, "eves": []}))
    schedule = TrafficSchedule(sc.alice.traffic, np.random.default_rng(0), num_packets, None)
    return ReceiverBank(sc, 5, 0, alice_traj=Static().build(), schedule=schedule,
                        lookahead=4096)


def _bank_gains(doppler, block_s, num_packets, fading="rayleigh"):
    """Bob's complex gains from the engine's receiver bank, one coherence block per packet."""
    bank = _bank(num_packets, block_s, {"channel": {"fading": fading, "coherence_s": block_s,
                                                    "environment_doppler_hz": doppler}})
    x = np.zeros(2)
    return np.array([bank.observe(k, x).gain[0] for k in range(num_packets)])


@pytest.mark.parametrize("doppler,block_s", [(10.0, 5e-3), (50.0, 5e-3), (100.0, 8e-3)])
def test_ar1_lag1_autocorrelation_is_jakes(doppler, block_s):
    h = _bank_gains(doppler, block_s, 20_000)
    rho_hat = np.real(np.vdot(h[:-1], h[1:])) / np.real(np.vdot(h, h))
    rho = special.j0(2 * math.pi * doppler * block_s)
    assert abs(rho_hat - rho) < 0.03, (rho_hat, rho)
    assert abs(np.mean(np.abs(h) ** 2) - 1) < 0.1


def test_shadowing_follows_gudmundson_over_distance_moved():
    """Bob moves 0.5 m per packet, d_corr = 5 m: lag-l correlation exp(-0.5 l / 5)."""
    bank = _bank(20_000, 0.05, {
        "mobility": {"kind": "constant_velocity", "position_m": [40.0, 0.0],
                     "speed_mps": 10.0, "heading_deg": 90.0},
        "channel": {"fading": "awgn"}},
        propagation={"shadowing_std_db": 4.0, "shadowing_decorrelation_m": 5.0})
    x = np.zeros(2)
    s = np.array([bank.observe(k, x).rows["shadowing_db"][0] for k in range(20_000)]) / 4.0
    for lag in (1, 4, 10):
        r = np.corrcoef(s[:-lag], s[lag:])[0, 1]
        assert abs(r - math.exp(-0.5 * lag / 5.0)) < 0.03, (lag, r)
    assert abs(s.std() - 1.0) < 0.05


@pytest.mark.parametrize("power", [1.0, 0.5])
def test_noise_variance_is_signal_power_over_snr(power):
    """y - s has variance P_s / mean SNR / |h|^2 per real (the one SNR convention)."""
    bank = _bank(400, 1e-3, {"channel": {"fading": "awgn"}})
    f = 2000
    x = np.zeros(f)
    ratios = []
    for k in range(400):
        obs = bank.observe(k, x, power)
        snr = 10 ** (obs.rows["snr_true_db"][0] / 10)
        ratios.append((obs.received[0] ** 2).mean() * snr / power)
        assert obs.noise_var[0] == pytest.approx(power / 10 ** (obs.rows["mean_snr_db"][0] / 10))
    assert abs(np.mean(ratios) - 1.0) < 0.01


def test_coherence_blocks_hold_exactly_their_packets():
    """5 ms blocks, 1 ms packets: every block holds 5 packets (float t / T put packets on
    a boundary into either block: 4, 5 or 6 per block)."""
    bank = _bank(3000, 1e-3, {"channel": {"fading": "rayleigh", "coherence_s": 5e-3,
                                          "environment_doppler_hz": 30.0}})
    x = np.zeros(2)
    g = np.array([bank.observe(k, x).gain[0] for k in range(3000)])
    change = np.flatnonzero(np.diff(g) != 0) + 1
    np.testing.assert_array_equal(change, np.arange(5, 3000, 5))


def _many_bank(num_packets, lookahead):
    eves = {"count": 69, "template": {"mobility": {"kind": "random_waypoint",
                                                   "bounds_m": [0, 0, 50, 50]},
                                      "channel": {"coherence_s": 2e-3}}}
    sc = parse_scenario(merge(BASE, {"run": {"num_packets": num_packets},
                                     "propagation": {"shadowing_std_db": 4.0},
                                     "eves": eves}))
    schedule = TrafficSchedule(sc.alice.traffic, np.random.default_rng(0), num_packets, None)
    return ReceiverBank(sc, 5, 0, alice_traj=Static().build(), schedule=schedule,
                        lookahead=lookahead)


def test_noise_drawn_ahead_changes_nothing(monkeypatch):
    """70 receivers (noise drawn ahead on the worker thread, the next chunk prepared early)
    give what the bank gives drawing everything on the spot, bit for bit: several noise
    blocks per chunk, chunks of 16 packets, a change of symbol count in the middle."""
    from semsim.simulator import bank as bank_module

    monkeypatch.setattr(bank_module, "_NOISE_BUDGET", 70 * 8 * 5)  # 5 packets per block
    widths = [8] * 37 + [6] * 20 + [8] * 23

    def run():
        bank = _many_bank(len(widths), 16)
        out = [bank.observe(k, np.full(f, 0.5)) for k, f in enumerate(widths)]
        return (np.concatenate([o.received.ravel() for o in out]),
                np.array([o.rows["snr_true_db"] for o in out]))

    ahead = run()
    monkeypatch.setattr(bank_module, "_PREFETCH_RECEIVERS", 10**9)
    plain = run()
    np.testing.assert_array_equal(ahead[0], plain[0])
    np.testing.assert_array_equal(ahead[1], plain[1])


def test_packets_out_of_order_are_refused():
    bank = _many_bank(40, 16)
    x = np.zeros(2)
    for k in range(20):
        bank.observe(k, x)
    with pytest.raises(RuntimeError, match="out of order"):
        bank.observe(33, x)

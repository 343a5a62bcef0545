import math

import numpy as np
import pytest
from scipy import special

from semsim.simulator.channels import (
    AWGN,
    ChannelConfig,
    Nakagami,
    Rayleigh,
    Rician,
    apply_one_tap,
    ar1_coefficient,
    ar1_path,
    ar1_step,
    doppler_hz,
    pack_complex,
    unpack_real,
)
from semsim.simulator.errors import ScenarioError

N = 100_000


@pytest.mark.parametrize("avg_db", [0.0, 10.0, 20.0])
def test_rayleigh_outage_matches_closed_form(avg_db):
    rng = np.random.default_rng(11)
    g_avg = 10 ** (avg_db / 10)
    snr = g_avg * np.abs(Rayleigh().sample_gain(rng, N)) ** 2
    for th_db in (avg_db - 10, avg_db - 3, avg_db, avg_db + 3):
        g_th = 10 ** (th_db / 10)
        empirical = np.mean(snr < g_th)
        assert abs(empirical - (1 - math.exp(-g_th / g_avg))) < 0.01


@pytest.mark.parametrize("g_db", [0.0, 10.0, 20.0])
def test_rayleigh_ergodic_capacity_matches_closed_form(g_db):
    g = 10 ** (g_db / 10)
    rng = np.random.default_rng(12)
    cap = np.mean(np.log2(1 + g * np.abs(Rayleigh().sample_gain(rng, N)) ** 2))
    closed = math.exp(1 / g) * special.exp1(1 / g) / math.log(2)
    assert abs(cap / closed - 1) < 0.01


@pytest.mark.parametrize("k", [0.0, 1.0, 5.0])
def test_rician_mean_power_and_variance(k):
    p = np.abs(Rician(k).sample_gain(np.random.default_rng(13), N)) ** 2
    var = (1 + 2 * k) / (1 + k) ** 2
    assert abs(p.mean() - 1) < 5 * math.sqrt(var / N)
    assert abs(p.var() / var - 1) < 0.05


@pytest.mark.parametrize("m", [0.5, 1.0, 2.5])
def test_nakagami_mean_power_and_variance(m):
    h = Nakagami(m).sample_gain(np.random.default_rng(14), N)
    p = np.abs(h) ** 2
    assert abs(p.mean() - 1) < 5 * math.sqrt(1 / (m * N))
    assert abs(p.var() / (1 / m) - 1) < 0.05
    # the amplitude is Nakagami-m: its CDF at the median of Gamma(m, 1/m) is 1/2
    median = special.gammaincinv(m, 0.5) / m
    assert abs(np.mean(p < median) - 0.5) < 0.01


def test_awgn_is_unit_gain():
    assert np.all(AWGN().sample_gain(np.random.default_rng(0), 10) == 1)
    assert AWGN().power_variance() == 0.0


def test_doppler_and_ar1_coefficient_formulas():
    assert doppler_hz(30.0, 5.9e9) == pytest.approx(30.0 * 5.9e9 / 299_792_458.0)
    assert ar1_coefficient(0.0, 1e-3) == 1.0
    assert ar1_coefficient(100.0, 1e-3) == pytest.approx(special.j0(2 * math.pi * 0.1))


@pytest.mark.parametrize("rho,n", [(0.9, 1), (0.9, 3), (0.5, 2), (1.0, 4), (0.0, 1)])
def test_ar1_step_n_blocks_closed_form(rho, n):
    """After n steps: E[g' g*] = rho^n, E|g'|^2 = 1 (stationary CN(0, 1)); n = 0 is identity."""
    rng = np.random.default_rng(21)
    g = (rng.standard_normal(N) + 1j * rng.standard_normal(N)) * math.sqrt(0.5)
    w = (rng.standard_normal(N) + 1j * rng.standard_normal(N)) * math.sqrt(0.5)
    g2 = ar1_step(g, rho, n, w)
    assert abs(np.real(np.vdot(g, g2)) / N - rho**n) < 0.01
    assert abs(np.mean(np.abs(g2) ** 2) - 1.0) < 0.02
    np.testing.assert_array_equal(ar1_step(g, rho, 0, w), g)


def test_ar1_path_is_successive_ar1_steps():
    rng = np.random.default_rng(3)
    g = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    rho, n = rng.uniform(0, 1, (7, 5)), rng.integers(0, 3, (7, 1))
    w = rng.standard_normal((7, 5)) + 1j * rng.standard_normal((7, 5))
    path = ar1_path(g, rho, n, w)
    for k in range(7):
        g = ar1_step(g, rho[k], n[k], w[k])
        np.testing.assert_array_equal(path[k], g)


def test_one_tap_equalised_noise_variance():
    rng = np.random.default_rng(15)
    f = 200_000
    x = rng.standard_normal(f)
    h = np.array([0.3 + 0.4j, 2.0 - 1.0j])
    nv = np.array([0.1, 0.01])
    y = apply_one_tap(x, h, nv, rng.standard_normal((2, f)))
    noise = y - x
    np.testing.assert_allclose(noise.var(axis=1), nv / np.abs(h) ** 2, rtol=0.02)
    # and FadingModel.apply draws its own noise the same way
    y2 = Rayleigh().apply(x, h, nv, rng)
    np.testing.assert_allclose((y2 - x).var(axis=1), nv / np.abs(h) ** 2, rtol=0.02)


def test_equalised_noise_in_place_gives_the_same_values():
    from semsim.simulator.channels import equalised_noise

    rng = np.random.default_rng(16)
    h = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    nv = rng.uniform(0.1, 1.0, (3, 4))
    z = rng.standard_normal((4, 3, 8))
    want = equalised_noise(h.T, nv.T, z)
    got = equalised_noise(h.T, nv.T, z, overwrite=True)
    assert np.shares_memory(got, z) and not np.shares_memory(want, z)
    np.testing.assert_array_equal(got, want)


def test_pack_unpack_round_trip_odd_length():
    x = np.arange(7.0)
    s = pack_complex(x)
    assert s.shape == (4,) and s[0] == 0 + 1j and s[3] == 6 + 0j
    np.testing.assert_array_equal(unpack_real(s, 7), x)


@pytest.mark.parametrize("cfg,path", [
    ({"fading": "rician", "k_factor": -1.0}, "k_factor"),
    ({"fading": "rician"}, "k_factor"),
    ({"fading": "nakagami", "m": 0.4}, "m"),
    ({"fading": "rayleigh", "coherence_s": 0.0}, "coherence_s"),
    ({"fading": "rayleigh", "m": 2.0}, "m"),
])
def test_channel_config_rejects_bad_values(cfg, path):
    with pytest.raises(ScenarioError) as err:
        ChannelConfig(**cfg)
    assert err.value.path == path

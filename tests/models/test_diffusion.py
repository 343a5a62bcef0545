"""Diffusion schedule, ESNR, Eq. 24 step selection, self-noising and the DDIM sampler."""

from __future__ import annotations

import pytest
import torch

from semsim.models.channel import awgn
from semsim.models.diffusion import (
    DDIMSampler,
    NoiseSchedule,
    esnr_db,
    select_tprime,
    self_noise,
    transmit_power,
)

SCH = NoiseSchedule()


@pytest.mark.parametrize(
    "t, want",
    [(14, 22.4), (23, 18.7), (38, 14.7), (60, 10.8), (93, 7.0), (141, 2.9), (184, 0.0)],
)
def test_esnr_table(t, want):
    assert float(esnr_db(t)) == pytest.approx(want, abs=0.15)


def test_schedule_shape_and_monotone():
    abar = SCH.abar
    assert abar.shape == (500,)
    assert float(SCH.betas[0]) == pytest.approx(1e-4)
    assert float(SCH.betas[-1]) == pytest.approx(0.02)
    assert bool((abar[1:] < abar[:-1]).all())
    assert float(SCH.abar_at(torch.tensor([-1]))[0]) == 1.0


def test_select_tprime_checked_table():
    t = torch.tensor([93, 93, 93, 93, 184])
    snr = torch.tensor([10.0, 15.0, 20.0, 30.0, 0.0])
    assert select_tprime(t, snr).tolist() == [60, 83, 89, 92, 9]


def test_select_tprime_edge_cases():
    # very low SNR: the channel alone is noisier than step t*, so no self-noise
    assert select_tprime(torch.tensor([38, 93, 184, 300]), -10.0).tolist() == [0, 0, 0, 0]
    assert int(select_tprime(38, 10.0)) == 0  # below about 15 dB, t*=38 has no t'
    assert int(select_tprime(0, 30.0)) == 0
    # t' <= t*, non-decreasing in SNR, and approaches t* at very high SNR
    snrs = torch.linspace(-5, 60, 40)
    tp = select_tprime(torch.full((40,), 200), snrs)
    assert bool((tp <= 200).all()) and bool((tp[1:] >= tp[:-1]).all())
    assert int(tp[-1]) == 199
    # pure function of (t*, snr): broadcasting and dtype
    out = select_tprime(torch.tensor([[93], [184]]), torch.tensor([10.0, 20.0]))
    assert out.shape == (2, 2) and out.dtype == torch.long


@pytest.mark.parametrize("snr_db, tstar", [(10.0, 93), (15.0, 93), (20.0, 93), (30.0, 93),
                                           (0.0, 184), (12.0, 300)])
def test_received_noise_variance_matches_target(snr_db, tstar):
    g = torch.Generator().manual_seed(0)
    n = 4000
    x0 = torch.randn(n, 1, 8, 8, generator=g)
    x0 = x0 / x0.pow(2).flatten(1).mean(1).sqrt().view(-1, 1, 1, 1)  # unit power per packet
    t = torch.full((n,), tstar)
    tp = select_tprime(t, snr_db)
    s = self_noise(x0, t, tp, SCH, g)
    y = awgn(s, snr_db, signal_power=transmit_power(t, tp), generator=g)
    a = SCH.abar_at(t)[0]
    var = float((y - a.sqrt() * x0).pow(2).mean())
    assert var == pytest.approx(float(1 - a), rel=0.03)  # 256k samples


def test_noise_exceeds_target_when_no_tprime():
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(4000, 1, 8, 8, generator=g)
    x0 = x0 / x0.pow(2).flatten(1).mean(1).sqrt().view(-1, 1, 1, 1)
    t = torch.full((4000,), 38)
    tp = select_tprime(t, 10.0)
    y = awgn(self_noise(x0, t, tp, SCH, g), 10.0, transmit_power(t, tp), g)
    a = SCH.abar_at(t)[0]
    assert float((y - a.sqrt() * x0).pow(2).mean()) == pytest.approx(0.096, abs=0.006)


def test_transmit_power_at_most_one():
    t = torch.arange(0, 500, 7)
    p = transmit_power(t, select_tprime(t, 15.0))
    assert bool((p <= 1.0 + 1e-6).all()) and bool((p > 0.9).all())


def test_ddim_grid_and_snapping():
    s = DDIMSampler(SCH, stride=10)
    assert s.timesteps[0] == 490 and s.timesteps[-1] == 0 and len(s.timesteps) == 50
    assert s.snap(torch.tensor([0, 4, 5, 93, 95, 184, 499])).tolist() == [0, 0, 10, 90, 100,
                                                                           180, 490]
    s.set_timesteps(num_inference_steps=25)
    assert s.stride == 20 and len(s.timesteps) == 25


def test_ddim_perfect_predictor_recovers_x0():
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(6, 1, 8, 8, generator=g, dtype=torch.float64)
    tstar = torch.tensor([0, 10, 90, 180, 300, 490])
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    x_t = SCH.q_sample(x0, tstar, eps)
    sampler = DDIMSampler(SCH, stride=10)

    def oracle(x, t, idx):
        a = SCH.abar_at(t, x.dtype).view(-1, 1, 1, 1)
        return (x - a.sqrt() * x0[idx]) / (1 - a).sqrt()

    out = sampler.sample(oracle, x_t, tstar)
    assert torch.allclose(out, x0, atol=1e-8)


def test_ddim_step_is_deterministic_ddim_update():
    sampler = DDIMSampler(SCH, stride=10)
    x = torch.randn(3, 1, 8, 8)
    eps = torch.randn(3, 1, 8, 8)
    t = torch.tensor([100, 100, 100])
    out = sampler.step(eps, t, x)
    a, ap = SCH.abar_at(t)[0], SCH.abar_at(t - 10)[0]
    x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
    assert torch.allclose(out, ap.sqrt() * x0 + (1 - ap).sqrt() * eps, atol=1e-6)

import math

import pytest
import torch

from semsim.models.channel import awgn, rayleigh_equalized
from semsim.models.stego.jscc import apply_channel


def test_awgn_noise_power_per_real_dimension():
    g = torch.Generator().manual_seed(0)
    s = torch.ones(4, 20000) * torch.tensor([[1.0], [2.0], [1.0], [0.5]])
    snr_db = torch.tensor([0.0, 10.0, 20.0, 5.0])
    y = awgn(s, snr_db, generator=g)  # P_s measured per packet
    var = (y - s).var(1)
    want = s.pow(2).mean(1) / 10 ** (snr_db / 10)
    torch.testing.assert_close(var, want, rtol=0.03, atol=0)


def test_jscc_convention_is_es_over_n0_per_complex_symbol():
    g = torch.Generator().manual_seed(1)
    z = torch.zeros(2, 40000)
    y = apply_channel(z, torch.tensor([0.0, 10.0]), "awgn", g)
    complex_var = y.pow(2).reshape(2, -1, 2).sum(-1).mean(1)  # E|n|^2 per complex symbol
    torch.testing.assert_close(complex_var, torch.tensor([1.0, 0.1]), rtol=0.03, atol=0)


def test_rayleigh_gain_is_exponential_and_noise_follows_it():
    g = torch.Generator().manual_seed(2)
    s = torch.ones(20000, 2)
    _, eff_db = rayleigh_equalized(s, 10.0, 1.0, g)
    h2 = 10 ** ((eff_db - 10.0) / 10)
    assert h2.mean().item() == pytest.approx(1.0, abs=0.03)
    thr = 0.5  # P(|h|^2 < x) = 1 - exp(-x)
    assert (h2 < thr).float().mean().item() == pytest.approx(1 - math.exp(-thr), abs=0.01)
    y, eff_db = rayleigh_equalized(torch.ones(3, 50000), torch.tensor([5.0, 5.0, 5.0]), 1.0, g)
    torch.testing.assert_close((y - 1).var(1), 10 ** (-eff_db / 10), rtol=0.03, atol=0)

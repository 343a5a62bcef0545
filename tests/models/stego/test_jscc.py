"""DeepJSCC codec and channel helper: shapes, power normalisation, channel statistics."""

from __future__ import annotations

import pytest
import torch

from semsim.models.stego.jscc import (
    DeepJSCC,
    JSCCConfig,
    apply_channel,
    complex_to_real,
    num_symbols,
    power_normalize,
    real_to_complex,
)

TINY_GRAY = JSCCConfig(channels=1, image_size=28, width=8, latent_channels=4)
TINY_RGB = JSCCConfig(channels=3, image_size=32, width=8, latent_channels=8)


def test_bandwidth_ratio_sets_symbol_count():
    assert num_symbols(1, 28, 28, 1 / 12) == 65
    assert num_symbols(3, 32, 32, 1 / 12) == 256
    assert JSCCConfig(bcr=1 / 6).k == 131


@pytest.mark.parametrize("cfg", [TINY_GRAY, TINY_RGB])
def test_shapes_and_power_normalisation(cfg):
    torch.manual_seed(0)
    model = DeepJSCC(cfg)
    x = torch.rand(5, cfg.channels, cfg.image_size, cfg.image_size)
    z = model.encoder(x)
    assert z.shape == (5, 2 * cfg.k)
    # average complex-symbol power is 1 for every image
    power = real_to_complex(z).abs().pow(2).mean(1)
    torch.testing.assert_close(power, torch.ones(5), atol=1e-5, rtol=0)
    y = model(x, 10.0, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert float(y.detach().min()) >= 0.0 and float(y.detach().max()) <= 1.0


def test_power_normalize_is_scale_invariant():
    z = torch.randn(3, 20)
    torch.testing.assert_close(power_normalize(z), power_normalize(7.5 * z))


def test_complex_real_round_trip():
    z = torch.randn(4, 10)
    s = real_to_complex(z)
    assert s.shape == (4, 5) and s.is_complex()
    assert float(s[0, 1].real) == float(z[0, 2]) and float(s[0, 1].imag) == float(z[0, 3])
    torch.testing.assert_close(complex_to_real(s), z)


@pytest.mark.parametrize("kind", ["awgn", "rayleigh"])
def test_channel_noise_power_matches_snr(kind):
    gen = torch.Generator().manual_seed(1)
    z = power_normalize(torch.randn(4000, 64, generator=gen))
    y = apply_channel(z, 10.0, kind, gen)
    err = (y - z).pow(2).sum(1) / 32  # per complex symbol
    if kind == "awgn":
        assert abs(float(err.mean()) - 0.1) < 0.005
    else:  # zero forcing: noise / |h|^2 has a heavy tail but the median is close to 0.1*ln2
        assert float(err.median()) > 0.05
    # a per-image SNR tensor gives per-image noise levels
    y2 = apply_channel(z[:2], torch.tensor([0.0, 30.0]), "awgn", gen)
    e2 = (y2 - z[:2]).pow(2).sum(1) / 32
    assert float(e2[0]) > 100 * float(e2[1])


def test_channel_is_reproducible_and_none_is_identity():
    z = power_normalize(torch.randn(2, 8))
    a = apply_channel(z, 5.0, "awgn", torch.Generator().manual_seed(3))
    b = apply_channel(z, 5.0, "awgn", torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assert apply_channel(z, 5.0, "none") is z
    with pytest.raises(ValueError):
        apply_channel(z, 5.0, "rician")


def test_training_step_lowers_loss():
    torch.manual_seed(0)
    model = DeepJSCC(TINY_GRAY)
    # simple structured images: brightness + horizontal ramp, random per image
    a, b = torch.rand(16, 1, 1, 1), torch.rand(16, 1, 1, 1)
    x = (0.5 * a + 0.5 * b * torch.linspace(0, 1, 28).view(1, 1, 1, 28)).expand(16, 1, 28, 28)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)

    def loss() -> torch.Tensor:
        return (model(x, 20.0, generator=gen) - x).pow(2).mean()

    first = float(loss().detach())
    for _ in range(40):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert float(loss().detach()) < 0.5 * first

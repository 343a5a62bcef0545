"""Metrics against closed forms and an independent implementation (pytorch-msssim)."""

from __future__ import annotations

import math

import pytest
import torch

from semsim.models import metrics as M


def test_accuracy_from_logits_and_labels():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 1, 1])
    assert M.accuracy(logits, labels) == 0.75
    assert M.accuracy(labels, labels) == 1.0


def test_psnr_known_value():
    x = torch.zeros(2, 1, 8, 8)
    y = torch.full_like(x, 0.1)  # MSE 0.01 -> 20 dB
    assert torch.allclose(M.psnr(x, y), torch.full((2,), 20.0), atol=1e-4)
    assert M.psnr(x, x).tolist() == [100.0, 100.0]
    assert math.isclose(float(M.mse(x, y)[0]), 0.01, rel_tol=1e-5)


def test_ssim_matches_reference_implementation():
    pm = pytest.importorskip("pytorch_msssim")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 64, 64, generator=g)
    y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ref = pm.ssim(x, y, data_range=1.0, size_average=False, win_size=11)
    assert torch.allclose(M.ssim(x, y, win_size=11), ref, atol=1e-5)


def test_ms_ssim_matches_reference_with_five_scales():
    pm = pytest.importorskip("pytorch_msssim")
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, 192, 192, generator=g)
    y = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ref = pm.ms_ssim(x, y, data_range=1.0, size_average=False, win_size=11)
    assert torch.allclose(M.ms_ssim(x, y, num_scales=5, win_size=11), ref, atol=1e-4)


def test_small_image_ssim_properties():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(4, 1, 28, 28, generator=g)
    assert torch.allclose(M.ssim(x, x), torch.ones(4))
    assert torch.allclose(M.ms_ssim(x, x), torch.ones(4))
    mild = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    strong = (x + 0.5 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    assert bool((M.ssim(x, mild) > M.ssim(x, strong)).all())
    assert bool((M.ms_ssim(x, mild) > M.ms_ssim(x, strong)).all())
    with pytest.raises(ValueError, match="too small"):
        M.ms_ssim(x, x, num_scales=5)


def test_ssim_pairs_equals_ssim_of_each_pair_and_shares_nothing_wrongly():
    g = torch.Generator().manual_seed(5)
    x = torch.rand(9, 3, 32, 32, generator=g)
    y = (torch.rand(4, 3, 32, 32, generator=g) * 0.5 + x[:4] * 0.5)
    xi = torch.tensor([0, 0, 1, 8, 3, 3, 2])
    yi = torch.tensor([0, 1, 1, 3, 3, 0, 2])
    got = M.ssim_pairs(x, y, xi, yi)
    want = torch.stack([M.ssim(x[i:i + 1], y[j:j + 1])[0] for i, j in zip(xi, yi, strict=True)])
    assert got.shape == (7,)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    assert got[3] < got[4]  # (8, 3) is an unrelated pair, (3, 3) shares half its pixels


def test_ssim_pairs_rejects_mismatched_inputs():
    x, y = torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 27)
    with pytest.raises(ValueError):
        M.ssim_pairs(x, y, torch.tensor([0]), torch.tensor([0]))
    with pytest.raises(ValueError):
        M.ssim_pairs(x, x, torch.tensor([0, 1]), torch.tensor([0]))

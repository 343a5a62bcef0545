"""Channel-free quality metrics, batched: accuracy, MSE, PSNR, SSIM, MS-SSIM.

Images are tensors (N, C, H, W) in [0, ``data_range``]; every image metric returns a
per-image tensor of shape (N,) (average it yourself). SSIM uses a Gaussian window
(sigma 1.5) of ``win_size`` pixels, valid convolution, K1 = 0.01, K2 = 0.03 (Wang et al.
2004), averaged over channels. MS-SSIM (Wang et al. 2003) uses ``num_scales`` scales with
the standard five weights truncated to the first ``num_scales`` and renormalised to sum
to 1; 28x28 and 32x32 images get 3 scales (28/14/7 or 32/16/8 pixels) and a window that
fits the smallest scale (``min(win_size, smallest side)`` made odd; 7 by default). With 5
scales, an 11-pixel window and large images this equals the usual MS-SSIM.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semsim.models.common.units import lin_to_db

__all__ = ["MS_SSIM_WEIGHTS", "accuracy", "ms_ssim", "mse", "psnr", "ssim", "ssim_pairs"]

#: Standard MS-SSIM scale weights (finest first).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_PSNR_CAP_DB = 100.0


def accuracy(logits_or_pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of correct predictions; accepts logits (N, K) or predicted labels (N,)."""
    pred = logits_or_pred.argmax(dim=-1) if logits_or_pred.dim() == 2 else logits_or_pred
    if pred.shape != labels.shape:
        raise ValueError(f"predictions {tuple(pred.shape)} vs labels {tuple(labels.shape)}")
    if labels.numel() == 0:
        raise ValueError("accuracy of an empty batch")
    return float((pred == labels).float().mean().item())


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(
            f"expected two (N, C, H, W) tensors of one shape, got {x.shape}, {y.shape}"
        )


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image, (N,)."""
    _check_pair(x, y)
    return (x.float() - y.float()).pow(2).flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak SNR per image in dB, (N,); identical images are capped at 100 dB."""
    err = mse(x, y)
    out = lin_to_db(data_range**2 / err.clamp_min(1e-30))
    return out.clamp_max(_PSNR_CAP_DB)


def _gauss_window(win_size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    """Normalised 1-D Gaussian taps (win_size,)."""
    coords = torch.arange(win_size, dtype=like.dtype, device=like.device) - (win_size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _band(taps: torch.Tensor, n: int) -> torch.Tensor:
    """(n, n - w + 1) matrix M with M[j + k, j] = taps[k]: ``v @ M`` is the valid
    correlation of the rows of v with the w taps."""
    w = len(taps)
    out = torch.arange(n - w + 1, device=taps.device)
    band = torch.zeros(n, n - w + 1, dtype=taps.dtype, device=taps.device)
    for k in range(w):
        band[out + k, out] = taps[k]
    return band


def _blur(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Separable valid Gaussian blur of (N, C, H, W) -> (N, C, H - w + 1, W - w + 1), as two
    matrix products with banded matrices (measured on this CPU: 10x faster than the
    equivalent pair of one-channel convolutions, whose kernels are too small to pay)."""
    rows = _band(taps, x.shape[-2]).T  # (H', H)
    return rows @ (x @ _band(taps, x.shape[-1]))


def _ssim_terms(mu_x: torch.Tensor, mu_y: torch.Tensor, bxx: torch.Tensor, byy: torch.Tensor,
                bxy: torch.Tensor, data_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SSIM and contrast-structure terms per image and channel, each (N, C), from the
    blurred x, y, x^2, y^2, xy."""
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mx2, my2, mxy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    cs_map = (2 * (bxy - mxy) + c2) / ((bxx - mx2) + (byy - my2) + c2)
    ssim_map = (2 * mxy + c1) / (mx2 + my2 + c1) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def _blurred_maps(x: torch.Tensor, y: torch.Tensor, cross_x: torch.Tensor,
                  cross_y: torch.Tensor, taps: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Blurred x, y, x^2, y^2 and cross_x * cross_y in one blur call (M, K, M, K, P maps)."""
    maps = _blur(torch.cat([x, y, x * x, y * y, cross_x * cross_y]), taps)
    return maps.split([len(x), len(y), len(x), len(y), len(cross_x)])


def _ssim_cs(
    x: torch.Tensor, y: torch.Tensor, data_range: float, taps: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image-and-channel SSIM and contrast-structure terms, each (N, C)."""
    return _ssim_terms(*_blurred_maps(x, y, x, y, taps), data_range)


def _check_window(win_size: int, x: torch.Tensor) -> None:
    if win_size % 2 != 1 or win_size > min(x.shape[-2:]):
        raise ValueError(f"win_size must be odd and <= the image side, got {win_size}")


def _odd_window(win_size: int, side: int) -> int:
    w = min(win_size, side)
    return w if w % 2 == 1 else w - 1


def ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, win_size: int = 7
) -> torch.Tensor:
    """Structural similarity per image, (N,). Gaussian window ``win_size`` (odd), sigma 1.5."""
    _check_pair(x, y)
    _check_window(win_size, x)
    x, y = x.float(), y.float()
    s, _ = _ssim_cs(x, y, data_range, _gauss_window(win_size, 1.5, x))
    return s.mean(1)


def ssim_pairs(x: torch.Tensor, y: torch.Tensor, x_index: torch.Tensor, y_index: torch.Tensor,
               data_range: float = 1.0, win_size: int = 7) -> torch.Tensor:
    """SSIM of the P pairs (x[x_index[p]], y[y_index[p]]), (P,), as :func:`ssim` of each
    pair; x (M, C, H, W), y (K, C, H, W). Each image's own blurred statistics are computed
    once however many pairs it is in (e.g. every receiver's output against its packet's one
    source image), so only the cross terms cost per pair."""
    if x.dim() != 4 or x.shape[1:] != y.shape[1:] or x_index.shape != y_index.shape:
        raise ValueError(f"expected (M, C, H, W) and (K, C, H, W) images and two index "
                         f"vectors of one length, got {x.shape}, {y.shape}, "
                         f"{x_index.shape}, {y_index.shape}")
    _check_window(win_size, x)
    x, y = x.float(), y.float()
    mu_x, mu_y, bxx, byy, bxy = _blurred_maps(x, y, x[x_index], y[y_index],
                                              _gauss_window(win_size, 1.5, x))
    s, _ = _ssim_terms(mu_x[x_index], mu_y[y_index], bxx[x_index], byy[y_index], bxy,
                       data_range)
    return s.mean(1)


def ms_ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 1.0,
    num_scales: int = 3,
    win_size: int = 7,
) -> torch.Tensor:
    """Multi-scale SSIM per image, (N,), over ``num_scales`` dyadic scales.

    Scale weights: the first ``num_scales`` of :data:`MS_SSIM_WEIGHTS`, renormalised. The
    Gaussian window is ``min(win_size, smallest scale side)`` made odd, used at every
    scale (28x28 with 3 scales: sides 28/14/7, window 7). Negative contrast-structure
    terms are clipped at 0 as in the common reference implementation.
    """
    _check_pair(x, y)
    if not 1 <= num_scales <= len(MS_SSIM_WEIGHTS):
        raise ValueError(f"num_scales must be in 1..5, got {num_scales}")
    smallest = min(x.shape[-2:]) // 2 ** (num_scales - 1)
    if smallest < 3:
        raise ValueError(f"images {tuple(x.shape[-2:])} too small for {num_scales} scales")
    x, y = x.float(), y.float()
    w = torch.tensor(MS_SSIM_WEIGHTS[:num_scales], dtype=x.dtype, device=x.device)
    w = w / w.sum()
    win = _gauss_window(_odd_window(win_size, smallest), 1.5, x)
    terms = []
    for level in range(num_scales):
        s, cs = _ssim_cs(x, y, data_range, win)
        if level < num_scales - 1:
            terms.append(torch.relu(cs))
            pad = [side % 2 for side in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, padding=pad)
        else:
            terms.append(torch.relu(s))
    stacked = torch.stack(terms, dim=0)  # (levels, N, C)
    return torch.prod(stacked ** w.view(-1, 1, 1), dim=0).mean(1)

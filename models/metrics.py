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

__all__ = ["MS_SSIM_WEIGHTS", "accuracy", "ms_ssim", "mse", "psnr", "ssim"]

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


def _gauss_window(win_size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(win_size, dtype=like.dtype, device=like.device) - (win_size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return g.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)  # (C, 1, 1, W)


def _blur(x: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    x = F.conv2d(x, win, groups=c)  # along width
    return F.conv2d(x, win.transpose(2, 3), groups=c)  # along height


def _ssim_cs(
    x: torch.Tensor, y: torch.Tensor, data_range: float, win: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image-and-channel SSIM and contrast-structure terms, each (N, C)."""
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu_x, mu_y = _blur(x, win), _blur(y, win)
    sxx = _blur(x * x, win) - mu_x**2
    syy = _blur(y * y, win) - mu_y**2
    sxy = _blur(x * y, win) - mu_x * mu_y
    cs_map = (2 * sxy + c2) / (sxx + syy + c2)
    ssim_map = ((2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def _odd_window(win_size: int, side: int) -> int:
    w = min(win_size, side)
    return w if w % 2 == 1 else w - 1


def ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, win_size: int = 7
) -> torch.Tensor:
    """Structural similarity per image, (N,). Gaussian window ``win_size`` (odd), sigma 1.5."""
    _check_pair(x, y)
    if win_size % 2 != 1 or win_size > min(x.shape[-2:]):
        raise ValueError(f"win_size must be odd and <= the image side, got {win_size}")
    x, y = x.float(), y.float()
    win = _gauss_window(win_size, 1.5, x.shape[1], x)
    s, _ = _ssim_cs(x, y, data_range, win)
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
    win = _gauss_window(_odd_window(win_size, smallest), 1.5, x.shape[1], x)
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

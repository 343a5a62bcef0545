"""Baselines: Direct and Permutation image noising, IBAL and IBAL-D (Wang et al., TWC 2024).

IBAL follows the authors' public MNIST code in shape: a linear 784 -> 64 transmitter with
power normalisation, a classifier that also embeds the noise level, and a training-only
auxiliary decoder 64 -> 784 (tanh). Objective for the transmitter + classifier:
``CE(task) - lambda(snr) * MSE(aux decoder)``; the decoder minimises its MSE. IBAL uses a
constant lambda; IBAL-D (choice, documented) scales it with the channel SNR,
``lambda(snr) = 2 * lambda * (snr_db - lo) / (hi - lo)`` (same mean over the training
range, more privacy weight where the channel is good and an eavesdropper gains most).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semsim.models.channel import awgn
from semsim.models.common.snr import REAL_UNIT_POWER
from semsim.models.diffusion import NoiseSchedule

from .config import DiffSemConfig, ibal_names
from .networks import MLPAdversary, power_normalize

__all__ = ["IBAL", "build_ibal_models", "direct_noise", "ibal_lambda", "ibal_receive",
           "permute_quadrants"]


def direct_noise(images: Tensor, t: Tensor, schedule: NoiseSchedule,
                 generator: torch.Generator | None = None) -> Tensor:
    """Eq. 11 on the image itself (scaled to [-1, 1]), returned clipped to [0, 1]."""
    x = images * 2.0 - 1.0
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    xt = schedule.q_sample(x, t, eps)
    return ((xt + 1.0) / 2.0).clamp(0.0, 1.0)


def permute_quadrants(images: Tensor) -> Tensor:
    """Swap the top-left and bottom-right quadrants (the paper's Permutation baseline)."""
    h, w = images.shape[-2:]
    h2, w2 = h // 2, w // 2
    out = images.clone()
    tl = images[..., :h2, :w2].clone()
    out[..., :h2, :w2] = images[..., h - h2:, w - w2:]
    out[..., h - h2:, w - w2:] = tl
    return out


def ibal_lambda(lam: float, snr_db: Tensor, dynamic: bool,
                snr_range: tuple[float, float] = (0.0, 25.0)) -> Tensor:
    if not dynamic:
        return torch.full_like(snr_db, float(lam))
    lo, hi = snr_range
    return 2.0 * lam * ((snr_db - lo) / (hi - lo)).clamp(0.0, 1.0)


class IBAL(nn.Module):
    """Linear transmitter, SNR-aware classifier, training-only auxiliary decoder."""

    def __init__(self, in_ch: int = 1, size: int = 28, k: int = 64, n_classes: int = 10):
        super().__init__()
        d = in_ch * size * size
        self.shape = (in_ch, size, size)
        self.tx = nn.Sequential(nn.Flatten(), nn.Linear(d, k))
        self.clf = nn.Sequential(nn.Linear(k + 1, 256), nn.ReLU(), nn.Linear(256, n_classes))
        self.aux = nn.Sequential(nn.Linear(k, d), nn.Tanh())

    def encode(self, x: Tensor) -> Tensor:
        return power_normalize(self.tx(x))

    def classify(self, y: Tensor, snr_db: Tensor) -> Tensor:
        snr = (snr_db / 25.0).view(-1, 1).to(y.device, y.dtype)
        return self.clf(torch.cat([y.flatten(1), snr], 1))

    def decode_aux(self, y: Tensor) -> Tensor:
        return ((self.aux(y.flatten(1)) + 1.0) / 2.0).view(-1, *self.shape)


def build_ibal_models(cfg: DiffSemConfig) -> dict[str, nn.Module]:
    """Every IBAL / IBAL-D model of :func:`ibal_names` and its fresh MLP adversary
    (``<name>_advmlp``), untrained: the modules of the baselines checkpoint."""
    mods: dict[str, nn.Module] = {}
    for name, _, _ in ibal_names(cfg):
        mods[name] = IBAL(cfg.img_ch, cfg.img_size, k=cfg.feat_ch * cfg.latent_size ** 2)
        # the IBAL paper's adversary class (64 -> 784, as ours): cheap enough to train for
        # every lambda; the conv adversary is kept for the DiffSem worst case.
        mods[name + "_advmlp"] = MLPAdversary(cfg.feat_ch, cfg.img_ch, cfg.img_size)
    return mods


def ibal_receive(model: IBAL, x: Tensor, snr_db: Tensor, g: torch.Generator | None,
                 cfg: DiffSemConfig) -> Tensor:
    """IBAL link: images (B, C, H, W) -> unit-power reals over AWGN at ``snr_db`` (B,),
    shaped as features (B, *cfg.latent_shape)."""
    y = awgn(model.encode(x), snr_db, signal_power=REAL_UNIT_POWER, generator=g)
    return y.view(-1, *cfg.latent_shape)

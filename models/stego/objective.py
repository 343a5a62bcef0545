"""The INN steganography training objective: five weighted squared-L2 terms over one pass
of the link (encoder -> INN -> channel -> inverse INN -> Bob's decoder)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from semsim.models.stego.jscc import apply_channel, power_normalize
from semsim.models.stego.networks import INN, l_hat

__all__ = ["StegoLambdas", "stego_losses", "stego_step"]


@dataclass(frozen=True)
class StegoLambdas:
    """Weights of the five loss terms (squared L2 norms per sample, averaged over the batch)."""

    lambda1: float = 1.0  # |z_c - z_h|^2: the container looks like the host signal
    lambda2: float = 1.0  # |l - l_hat|^2: the dropped part is predictable
    lambda3: float = 2.0  # |z_p - z_p_hat|^2: Bob recovers the private signal (2 or 4)
    lambda4: float = 1.0  # |z_h - z_h_hat|^2: Bob recovers the host signal
    lambda5: float = 1.0  # |x_p - x_p_hat|^2: Bob's private image

    def to_dict(self) -> dict:
        return asdict(self)


def _sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).pow(2).flatten(1).sum(1).mean()


def stego_losses(
    lam: StegoLambdas,
    *,
    zc: torch.Tensor,
    zh: torch.Tensor,
    l: torch.Tensor,
    l_hat: torch.Tensor,
    zp: torch.Tensor,
    zp_hat: torch.Tensor,
    zh_hat: torch.Tensor,
    xp: torch.Tensor,
    xp_hat: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """The five weighted terms and their sum ``total`` (forward + backward + privacy)."""
    terms = {
        "forward_zc": lam.lambda1 * _sq(zc, zh),
        "forward_l": lam.lambda2 * _sq(l, l_hat),
        "backward_zp": lam.lambda3 * _sq(zp, zp_hat),
        "backward_zh": lam.lambda4 * _sq(zh, zh_hat),
        "privacy": lam.lambda5 * _sq(xp, xp_hat),
    }
    terms["total"] = sum(terms.values())
    return terms


def stego_step(
    inn: INN,
    encoder: nn.Module,
    bob_decoder: nn.Module,
    xp: torch.Tensor,
    xh: torch.Tensor,
    snr_db: float | torch.Tensor,
    lam: StegoLambdas,
    *,
    channel: str = "awgn",
    l_hat_mode: str = "zeros",
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """One pass of the training graph, channel included; returns :func:`stego_losses`.

    ``xp``, ``xh``: (B, C, H, W). The (frozen) encoder maps both to z_p, z_h; the INN hides
    z_p in z_c, which is power-normalised, sent over ``channel`` at ``snr_db`` and inverted
    with l_hat; Bob's decoder maps z_p_hat to x_p_hat. Also returns ``xp_hat`` (detached).
    """
    with torch.no_grad():
        zp, zh = encoder(xp), encoder(xh)
    l, zc = inn(zp, zh)
    zc = power_normalize(zc)
    received = apply_channel(zc, snr_db, channel, generator)
    lh = l_hat(l, l_hat_mode, generator)
    zp_hat, zh_hat = inn.inverse(lh, received)
    xp_hat = bob_decoder(zp_hat)
    out = stego_losses(
        lam,
        zc=zc,
        zh=zh,
        l=l,
        l_hat=lh,
        zp=zp,
        zp_hat=zp_hat,
        zh_hat=zh_hat,
        xp=xp,
        xp_hat=xp_hat,
    )
    out["xp_hat"] = xp_hat.detach()
    return out

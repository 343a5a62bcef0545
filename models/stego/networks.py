"""The INN of INN steganography (Tang et al., GLOBECOM 2024, arXiv 2404.12170) and Eve's
model-inversion network.

Alice encodes a private image x_p and a host image x_h with the shared, frozen DeepJSCC
encoder into z_p, z_h (B, 2k) and runs an invertible network of affine coupling blocks:

    forward, block i:   z_h <- z_h + phi(z_p)
                        z_p <- z_p * exp(rho(z_h)) + eta(z_h),   rho = clamp * tanh(.)
    backward, block i:  z_p <- (z_p - eta(z_h)) * exp(-rho(z_h))
                        z_h <- z_h - phi(z_p)

with output (l, z_c) = (z_p^(8), z_h^(8)). Only the container z_c is transmitted; l is
dropped and Bob replaces it with :func:`l_hat` (zeros, or a sample of N(0, I)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["INN", "CouplingBlock", "INNConfig", "InversionNet", "l_hat"]


@dataclass(frozen=True)
class INNConfig:
    """Size of the invertible network (stored in checkpoint manifests)."""

    dim: int = 130  # real channel dimension 2k
    blocks: int = 8
    hidden: int = 256
    depth: int = 2  # hidden layers of each sub-network
    clamp: float = 2.0  # rho = clamp * tanh(.)

    def to_dict(self) -> dict:
        return asdict(self)


def _subnet(dim: int, hidden: int, depth: int) -> nn.Sequential:
    """Dense sub-network dim -> dim; last layer zero-initialised (each block starts as id)."""
    layers: list[nn.Module] = []
    width = dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    last = nn.Linear(width, dim)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    layers.append(last)
    return nn.Sequential(*layers)


class CouplingBlock(nn.Module):
    """One affine coupling block on a pair of (B, dim) tensors (z_p, z_h)."""

    def __init__(self, dim: int, hidden: int, depth: int = 2, clamp: float = 2.0) -> None:
        super().__init__()
        self.clamp = clamp
        self.phi = _subnet(dim, hidden, depth)
        self.rho = _subnet(dim, hidden, depth)
        self.eta = _subnet(dim, hidden, depth)

    def _log_scale(self, zh: torch.Tensor) -> torch.Tensor:
        return self.clamp * torch.tanh(self.rho(zh))

    def forward(self, zp: torch.Tensor, zh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_p^(i), z_h^(i)) -> (z_p^(i+1), z_h^(i+1))."""
        zh = zh + self.phi(zp)
        zp = zp * torch.exp(self._log_scale(zh)) + self.eta(zh)
        return zp, zh

    def inverse(self, zp: torch.Tensor, zh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_p^(i+1), z_h^(i+1)) -> (z_p^(i), z_h^(i)), exactly undoing :meth:`forward`."""
        zp = (zp - self.eta(zh)) * torch.exp(-self._log_scale(zh))
        zh = zh - self.phi(zp)
        return zp, zh


class INN(nn.Module):
    """``blocks`` coupling blocks: (z_p, z_h) -> (l, z_c) and back, each (B, dim)."""

    def __init__(self, cfg: INNConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or INNConfig()
        c = self.cfg
        self.blocks = nn.ModuleList(
            CouplingBlock(c.dim, c.hidden, c.depth, c.clamp) for _ in range(c.blocks)
        )

    def forward(self, zp: torch.Tensor, zh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (l, z_c) = (z_p^(n), z_h^(n))."""
        for block in self.blocks:
            zp, zh = block(zp, zh)
        return zp, zh

    def inverse(self, l: torch.Tensor, zc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(l, z_c) -> (z_p, z_h)."""
        zp, zh = l, zc
        for block in reversed(self.blocks):
            zp, zh = block.inverse(zp, zh)
        return zp, zh


def l_hat(like: torch.Tensor, mode: str, generator: torch.Generator | None) -> torch.Tensor:
    """Bob's stand-in for the dropped INN output l, shaped like ``like`` (B, 2k): ``zeros``
    or ``gaussian`` (N(0, I) drawn on the CPU from ``generator``)."""
    if mode == "zeros":
        return torch.zeros_like(like)
    if mode == "gaussian":
        return torch.randn(like.shape, generator=generator).to(like)
    raise ValueError(f"l_hat mode must be 'zeros' or 'gaussian', got {mode!r}")


class InversionNet(nn.Module):
    """Eve's model-inversion network: received real signal (B, 2k) -> image (B, C, H, W).

    A dense net (2k -> hidden -> hidden -> C*H*W, sigmoid), trained by Eve on her own
    images sent through the plain DeepJSCC encoder and her own channel.
    """

    def __init__(self, dim: int, channels: int, image_size: int, hidden: int = 512) -> None:
        super().__init__()
        self.shape = (channels, image_size, image_size)
        self.net = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, channels * image_size * image_size),
            nn.Sigmoid(),
        )

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.net(y).view(-1, *self.shape)

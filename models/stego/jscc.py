"""DeepJSCC image codec (Bourtsoulatze et al. 2019 style), the stego family's shared codec.

Encoder: image (B, C, H, W) in [0, 1] -> ``2k`` real channel inputs (B, 2k), read as ``k``
complex symbols (real part first: ``z[:, 2j]`` is Re s_j, ``z[:, 2j + 1]`` is Im s_j) and
power-normalised per image to an average complex-symbol power of 1 (sum of squares = k).
``k = round(bcr * C * H * W)``: the bandwidth compression ratio (BCR) counts complex channel
uses per real source value, 1/12 by default (28x28x1 -> k = 65; 32x32x3 -> k = 256).

The SNR is NOT fed to the network: one encoder/decoder is trained over a range of SNRs
(``snr_range_db``) and used at any SNR (the simulator may therefore call it without an SNR
estimate). The channel helper here (AWGN, Rayleigh block fading with equalisation) exists
only for training and evaluation; the simulator owns the full physical channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from semsim.models.channel import awgn, rayleigh_equalized
from semsim.models.common.snr import COMPLEX_UNIT_POWER

__all__ = [
    "JSCCConfig",
    "DeepJSCC",
    "JSCCEncoder",
    "JSCCDecoder",
    "apply_channel",
    "complex_to_real",
    "num_symbols",
    "power_normalize",
    "real_to_complex",
    "sample_snr_db",
]


def num_symbols(channels: int, height: int, width: int, bcr: float) -> int:
    """Complex channel uses ``k = round(bcr * C * H * W)`` (at least 1)."""
    return max(1, int(round(bcr * channels * height * width)))


@dataclass(frozen=True)
class JSCCConfig:
    """Shape and size of a DeepJSCC codec (stored in checkpoint manifests)."""

    channels: int = 1  # image channels: 1 (MNIST / Fashion-MNIST) or 3 (CIFAR-10)
    image_size: int = 28  # H = W, a multiple of 4
    bcr: float = 1 / 12  # complex channel uses per real source value
    width: int = 64  # conv feature width (first layer has width // 2)
    latent_channels: int = 16  # channels of the (H/4, W/4) feature map before the bottleneck

    @property
    def k(self) -> int:
        """Complex channel symbols per image."""
        return num_symbols(self.channels, self.image_size, self.image_size, self.bcr)

    def to_dict(self) -> dict:
        return asdict(self)


def power_normalize(z: torch.Tensor) -> torch.Tensor:
    """Scale each row of real channel inputs (B, 2k) to average complex-symbol power 1."""
    k = z.shape[-1] / 2
    power = z.pow(2).sum(-1, keepdim=True).clamp_min(1e-12)
    return z * torch.sqrt(k / power)


def real_to_complex(z: torch.Tensor) -> torch.Tensor:
    """(B, 2k) real, interleaved (Re, Im) -> (B, k) complex64."""
    return torch.view_as_complex(z.float().reshape(*z.shape[:-1], -1, 2).contiguous())


def complex_to_real(s: torch.Tensor) -> torch.Tensor:
    """(B, k) complex -> (B, 2k) real, interleaved (Re, Im)."""
    return torch.view_as_real(s).reshape(*s.shape[:-1], -1)


def sample_snr_db(
    batch: int, snr_range_db: tuple[float, float], generator: torch.Generator | None = None
) -> torch.Tensor:
    """Per-image training SNRs (B,) in dB, uniform on ``snr_range_db``."""
    lo, hi = snr_range_db
    return lo + (hi - lo) * torch.rand(batch, generator=generator)


def apply_channel(
    z: torch.Tensor,
    snr_db: float | torch.Tensor,
    kind: str = "awgn",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pass real channel inputs (B, 2k) (unit average complex power) through a channel.

    ``snr_db``: a float or a (B,) tensor, Es/N0 per complex symbol in dB. ``kind``:
    ``"awgn"`` (noise of variance ``noise_variance(snr_db, COMPLEX_UNIT_POWER)`` per real,
    i.e. 1/snr per complex symbol; :mod:`models.common.snr`),
    ``"rayleigh"`` (one CN(0, 1) gain per image, i.e. block fading over the packet, with
    perfect-CSI zero-forcing equalisation, so the output is y / h), or ``"none"``.
    Returns the received (equalised) real tensor (B, 2k). The channels live in
    :mod:`models.channel` (noise drawn on the CPU: results do not depend on the device).
    """
    if kind == "none":
        return z
    if kind == "awgn":
        return awgn(z, snr_db, COMPLEX_UNIT_POWER, generator)
    if kind == "rayleigh":
        return rayleigh_equalized(z, snr_db, COMPLEX_UNIT_POWER, generator)[0]
    raise ValueError(f"unknown channel kind {kind!r}; choose awgn, rayleigh or none")


class JSCCEncoder(nn.Module):
    """Image (B, C, H, W) in [0, 1] -> power-normalised real channel inputs (B, 2k)."""

    def __init__(self, cfg: JSCCConfig) -> None:
        super().__init__()
        w, c_lat, s = cfg.width, cfg.latent_channels, cfg.image_size // 4
        self.convs = nn.Sequential(
            nn.Conv2d(cfg.channels, w // 2, 5, stride=2, padding=2),
            nn.PReLU(w // 2),
            nn.Conv2d(w // 2, w, 5, stride=2, padding=2),
            nn.PReLU(w),
            nn.Conv2d(w, w, 3, padding=1),
            nn.PReLU(w),
            nn.Conv2d(w, c_lat, 3, padding=1),
        )
        flat = c_lat * s * s
        self.proj = nn.Identity() if flat == 2 * cfg.k else nn.Linear(flat, 2 * cfg.k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return power_normalize(self.proj(self.convs(x).flatten(1)))


class JSCCDecoder(nn.Module):
    """Received real channel outputs (B, 2k) -> image (B, C, H, W) in [0, 1]."""

    def __init__(self, cfg: JSCCConfig) -> None:
        super().__init__()
        w, c_lat, s = cfg.width, cfg.latent_channels, cfg.image_size // 4
        flat = c_lat * s * s
        self.shape = (c_lat, s, s)
        self.proj = nn.Identity() if flat == 2 * cfg.k else nn.Linear(2 * cfg.k, flat)
        self.convs = nn.Sequential(
            nn.Conv2d(c_lat, w, 3, padding=1),
            nn.PReLU(w),
            nn.Conv2d(w, w, 3, padding=1),
            nn.PReLU(w),
            nn.ConvTranspose2d(w, w // 2, 4, stride=2, padding=1),
            nn.PReLU(w // 2),
            nn.ConvTranspose2d(w // 2, cfg.channels, 4, stride=2, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.convs(self.proj(y).view(-1, *self.shape))


class DeepJSCC(nn.Module):
    """Encoder + decoder pair; ``forward`` runs image -> channel -> image."""

    def __init__(self, cfg: JSCCConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or JSCCConfig()
        self.encoder = JSCCEncoder(self.cfg)
        self.decoder = JSCCDecoder(self.cfg)

    def forward(
        self,
        x: torch.Tensor,
        snr_db: float | torch.Tensor,
        kind: str = "awgn",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """(B, C, H, W) -> reconstructed (B, C, H, W) after the channel at ``snr_db``."""
        return self.decoder(apply_channel(self.encoder(x), snr_db, kind, generator))

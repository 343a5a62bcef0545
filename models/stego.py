"""INN steganography over DeepJSCC (Tang et al., GLOBECOM 2024, arXiv 2404.12170).

Alice encodes a private image x_p and a host image x_h with the shared, frozen DeepJSCC
encoder into z_p, z_h (B, 2k) and runs an invertible network of affine coupling blocks:

    forward, block i:   z_h <- z_h + phi(z_p)
                        z_p <- z_p * exp(rho(z_h)) + eta(z_h),   rho = clamp * tanh(.)
    backward, block i:  z_p <- (z_p - eta(z_h)) * exp(-rho(z_h))
                        z_h <- z_h - phi(z_p)

with output (l, z_c) = (z_p^(8), z_h^(8)). Only the container z_c is power-normalised and
transmitted; l is dropped. Bob inverts (l_hat, received z_c) with l_hat = 0 (default) or a
sample of N(0, I) and decodes z_p_hat with his DeepJSCC decoder. Eve either decodes what
she hears with the public DeepJSCC decoder (naive) or with a model-inversion network she
trained on (received signal, image) pairs obtained by querying the plain encoder (MIA).

Real channel vectors are (B, 2k), interleaved (Re, Im); the simulator-facing methods of
:class:`StegoSystem` take and return complex symbols (B, k).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from semsim.models.jscc import (
    DeepJSCC,
    JSCCConfig,
    JSCCDecoder,
    complex_to_real,
    power_normalize,
    real_to_complex,
)

__all__ = [
    "SETTINGS",
    "CouplingBlock",
    "INN",
    "INNConfig",
    "InversionNet",
    "StegoLambdas",
    "StegoSetting",
    "StegoSystem",
    "draw_pairs",
    "load_jscc",
    "load_stego",
    "stego_losses",
    "stego_step",
    "stego_checkpoint_name",
]


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class StegoSetting:
    """Which datasets give the private and the host images, and which codec they share."""

    name: str
    private: str  # dataset of the private images (models.data name)
    host: str  # dataset of the host images
    jscc: str  # checkpoint name of the shared DeepJSCC codec
    mia: str  # checkpoint name of Eve's inversion network
    default: str | None = None  # stego checkpoint load_stego picks (None: lambda3 = 2 name)


SETTINGS: dict[str, StegoSetting] = {
    s.name: s
    for s in (
        StegoSetting(
            "mnist-in-fashion",
            "mnist",
            "fashion",
            "jscc-gray28",
            "stego-mia-gray28",
            default="stego-mnist-in-fashion-lam3-4-lam1-0.2",  # tuned: see docs/reproduction.md
        ),
        StegoSetting("fashion", "fashion", "fashion", "jscc-gray28", "stego-mia-gray28"),
        StegoSetting("mnist", "mnist", "mnist", "jscc-gray28", "stego-mia-gray28"),
        StegoSetting(
            "cifar10",
            "cifar10-partial",
            "cifar10-partial",
            "jscc-cifar10",
            "stego-mia-cifar10",
            default="stego-cifar10-lam3-2-lam1-0.05",
        ),
    )
}


def stego_checkpoint_name(setting: str, lambda3: float = 2.0) -> str:
    """Shipped checkpoint name: ``stego-<setting>-lam3-<lambda3>`` (e.g. ...-lam3-2)."""
    return f"stego-{setting}-lam3-{lambda3:g}"


def draw_pairs(
    n_private: int, n_host: int, num: int, generator: torch.Generator, same_dataset: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reproducible (private index, host index) pairs, each (num,).

    Indices are drawn without replacement while they last (then cycled). Within one dataset
    the host is never the private image itself (host = private permutation shifted by one).
    """
    reps_p = -(-num // n_private)
    priv = torch.cat([torch.randperm(n_private, generator=generator) for _ in range(reps_p)])
    priv = priv[:num]
    if same_dataset:
        perm = torch.randperm(n_private, generator=generator)
        nxt = torch.empty_like(perm)
        nxt[perm] = torch.roll(perm, 1)  # a derangement: nxt[i] != i
        return priv, nxt[priv]
    reps_h = -(-num // n_host)
    host = torch.cat([torch.randperm(n_host, generator=generator) for _ in range(reps_h)])
    return priv, host[:num]


# ----------------------------------------------------------------------------- the INN


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


# ----------------------------------------------------------------------------- Eve's MIA


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


# ----------------------------------------------------------------------------- losses


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


def _l_hat(like: torch.Tensor, mode: str, generator: torch.Generator | None) -> torch.Tensor:
    if mode == "zeros":
        return torch.zeros_like(like)
    if mode == "gaussian":
        return torch.randn(like.shape, generator=generator).to(like)
    raise ValueError(f"l_hat mode must be 'zeros' or 'gaussian', got {mode!r}")


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
    from semsim.models.jscc import apply_channel

    with torch.no_grad():
        zp, zh = encoder(xp), encoder(xh)
    l, zc = inn(zp, zh)
    zc = power_normalize(zc)
    received = apply_channel(zc, snr_db, channel, generator)
    l_hat = _l_hat(l, l_hat_mode, generator)
    zp_hat, zh_hat = inn.inverse(l_hat, received)
    xp_hat = bob_decoder(zp_hat)
    out = stego_losses(
        lam,
        zc=zc,
        zh=zh,
        l=l,
        l_hat=l_hat,
        zp=zp,
        zp_hat=zp_hat,
        zh_hat=zh_hat,
        xp=xp,
        xp_hat=xp_hat,
    )
    out["xp_hat"] = xp_hat.detach()
    return out


# ----------------------------------------------------------------------------- the system


class StegoSystem(nn.Module):
    """Alice / Bob / Eve around one stego link; the interface the simulator calls.

    Symbols are complex (B, k) tensors with average power 1 per symbol (Alice's side) or
    the equalised received symbols (receivers' side). Images are (B, C, H, W) in [0, 1].
    """

    def __init__(
        self,
        jscc: DeepJSCC,
        inn: INN,
        bob_decoder: JSCCDecoder | None = None,
        inversion: InversionNet | None = None,
        l_hat_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.jscc = jscc
        self.inn = inn
        self.bob_decoder = bob_decoder if bob_decoder is not None else jscc.decoder
        self.inversion = inversion
        self.l_hat_mode = l_hat_mode

    @property
    def k(self) -> int:
        """Complex channel symbols per image."""
        return self.jscc.cfg.k

    @staticmethod
    def _real(received: torch.Tensor) -> torch.Tensor:
        return complex_to_real(received) if received.is_complex() else received

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Plain DeepJSCC (no security): images -> complex symbols (B, k), power 1."""
        return real_to_complex(self.jscc.encoder(images))

    @torch.no_grad()
    def decode(self, received: torch.Tensor) -> torch.Tensor:
        """Plain DeepJSCC decoder (also Eve's naive decoder): (B, k) -> images."""
        return self.jscc.decoder(self._real(received))

    @torch.no_grad()
    def hide(self, private: torch.Tensor, host: torch.Tensor) -> torch.Tensor:
        """Alice: (private, host) images -> container symbols z_c (B, k), power-normalised."""
        _, zc = self.inn(self.jscc.encoder(private), self.jscc.encoder(host))
        return real_to_complex(power_normalize(zc))

    @torch.no_grad()
    def reveal(
        self, received: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Bob: received container (B, k) -> private image (B, C, H, W)."""
        y = self._real(received)
        zp_hat, _ = self.inn.inverse(_l_hat(y, self.l_hat_mode, generator), y)
        return self.bob_decoder(zp_hat)

    @torch.no_grad()
    def naive(self, received: torch.Tensor) -> torch.Tensor:
        """Eve, naive decoding with the public DeepJSCC decoder: (B, k) -> image."""
        return self.decode(received)

    @torch.no_grad()
    def mia(self, received: torch.Tensor) -> torch.Tensor:
        """Eve, model-inversion attack: her inversion network on (B, k) -> image."""
        if self.inversion is None:
            raise RuntimeError("no inversion network loaded (train it: semsim train stego-mia)")
        return self.inversion(self._real(received))


# ----------------------------------------------------------------------------- loading


def _dir(checkpoint_dir: str | os.PathLike[str] | None) -> Path:
    from semsim.models.checkpoint import CHECKPOINT_DIR

    return Path(checkpoint_dir) if checkpoint_dir is not None else CHECKPOINT_DIR


def load_jscc(
    name: str, checkpoint_dir: str | os.PathLike[str] | None = None, device: str = "cpu"
) -> DeepJSCC:
    """Load a shipped DeepJSCC codec (e.g. ``jscc-gray28``) in eval mode."""
    from semsim.models.checkpoint import load_checkpoint, read_manifest

    d = _dir(checkpoint_dir)
    cfg = JSCCConfig(**read_manifest(d, name)["config"]["codec"])
    model = DeepJSCC(cfg)
    load_checkpoint(d, name, {"encoder": model.encoder, "decoder": model.decoder})
    return model.to(device).eval()


def load_stego(
    setting: str = "mnist-in-fashion",
    checkpoint_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    lambda3: float | None = None,
    with_mia: bool = True,
    name: str | None = None,
) -> StegoSystem:
    """Load the shipped stego link for ``setting`` (see :data:`SETTINGS`), eval mode.

    Loads the shared DeepJSCC codec, the INN + Bob's decoder, and Eve's inversion network
    when ``with_mia`` and its checkpoint exists. Which stego checkpoint: ``name`` if given,
    else the slides' lambdas with ``lambda3`` (:func:`stego_checkpoint_name`) if given,
    else the setting's default (the tuned one where shipped).
    """
    from semsim.models.checkpoint import CheckpointError, load_checkpoint, read_manifest

    if setting not in SETTINGS:
        raise KeyError(f"unknown stego setting {setting!r}; choose one of {sorted(SETTINGS)}")
    s = SETTINGS[setting]
    d = _dir(checkpoint_dir)
    jscc = load_jscc(s.jscc, d, "cpu")
    if name is None:
        if lambda3 is None and s.default is not None:
            name = s.default
        else:
            name = stego_checkpoint_name(setting, 2.0 if lambda3 is None else lambda3)
    man = read_manifest(d, name)
    want = man["config"].get("jscc_sha256")
    if want is not None and want != read_manifest(d, s.jscc)["sha256"]:
        raise CheckpointError(
            f"checkpoint {name!r} was trained on another {s.jscc!r} codec (sha256 {want}); "
            f"retrain it: semsim train stego --setting {setting}"
        )
    inn = INN(INNConfig(**man["config"]["inn"]))
    bob = JSCCDecoder(jscc.cfg)
    load_checkpoint(d, name, {"inn": inn, "bob_decoder": bob})
    inversion = None
    if with_mia:
        try:
            mman = read_manifest(d, s.mia)
        except CheckpointError:
            mman = None
        if mman is not None:
            inversion = InversionNet(**mman["config"]["net"])
            load_checkpoint(d, s.mia, {"inversion": inversion})
    system = StegoSystem(jscc, inn, bob, inversion, man["config"].get("l_hat_mode", "zeros"))
    return system.to(device).eval()

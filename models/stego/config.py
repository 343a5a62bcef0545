"""Stego family configuration: settings (which datasets hide in which), checkpoint names,
the DeepJSCC presets, the training configs and reproducible (private, host) pairs."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from semsim.models.stego.jscc import JSCCConfig
from semsim.models.stego.settings import SETTINGS, StegoSetting, stego_checkpoint_name

__all__ = [
    "JSCC_PRESETS",
    "SETTINGS",
    "JSCCTrainConfig",
    "MIATrainConfig",
    "StegoSetting",
    "StegoTrainConfig",
    "draw_pairs",
    "stego_checkpoint_name",
]


#: DeepJSCC codecs: checkpoint name -> (codec shape, training datasets).
JSCC_PRESETS: dict[str, tuple[JSCCConfig, tuple[str, ...]]] = {
    "jscc-gray28": (
        JSCCConfig(channels=1, image_size=28, latent_channels=16),
        ("mnist", "fashion"),
    ),
    "jscc-cifar10": (
        JSCCConfig(channels=3, image_size=32, latent_channels=8),
        ("cifar10-partial",),
    ),
}


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


@dataclass(frozen=True)
class JSCCTrainConfig:
    """DeepJSCC training: MSE over AWGN at SNRs uniform on ``snr_range_db`` (SNR not fed)."""

    name: str = "jscc-gray28"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    snr_range_db: tuple[float, float] = (5.0, 20.0)
    seed: int = 0
    eval_snrs_db: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0)
    max_train: int | None = None  # cap per dataset (tests); None: the whole pair split
    max_test: int | None = None  # cap per dataset on the test metrics; None: all


@dataclass(frozen=True)
class StegoTrainConfig:
    """INN steganography training over a frozen, shipped DeepJSCC codec."""

    setting: str = "mnist-in-fashion"
    epochs: int = 12
    batch_size: int = 128
    lr: float = 1e-3
    lambda1: float = 1.0
    lambda2: float = 1.0
    lambda3: float = 2.0
    lambda4: float = 1.0
    lambda5: float = 1.0
    l_hat_mode: str = "zeros"
    snr_range_db: tuple[float, float] = (10.0, 20.0)
    channel: str = "awgn"
    hidden: int = 256
    depth: int = 2
    blocks: int = 8
    clamp: float = 2.0
    finetune_decoder: bool = True  # Bob fine-tunes his own copy of the DeepJSCC decoder
    decoder_lr_scale: float = 0.5
    grad_clip: float = 10.0
    seed: int = 0
    name: str | None = None  # default: stego_checkpoint_name(setting, lambda3)
    eval_pairs: int = 2000
    eval_snr_db: float = 15.0
    max_train: int | None = None  # cap on each image set (tests); None: the whole pair split

    def checkpoint_name(self) -> str:
        return self.name or stego_checkpoint_name(self.setting, self.lambda3)


@dataclass(frozen=True)
class MIATrainConfig:
    """Eve's inversion network: her own images -> plain encoder -> her channel -> image."""

    jscc: str = "jscc-gray28"
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    hidden: int = 512
    snr_range_db: tuple[float, float] = (10.0, 20.0)
    channel: str = "awgn"
    seed: int = 0
    name: str | None = None  # default: stego-mia-<jscc suffix>
    max_train: int | None = None  # cap per dataset (tests); None: the whole adversary split
    eval_images: int = 2000  # test images per dataset for the manifest's metrics

    def checkpoint_name(self) -> str:
        return self.name or "stego-mia-" + self.jscc.removeprefix("jscc-")

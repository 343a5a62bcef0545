"""Stego settings without torch: which datasets hide in which, which checkpoints they use
(validating a scenario reads them without importing torch; ``models.stego.config``
re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SETTINGS", "StegoSetting", "default_checkpoint", "stego_checkpoint_name"]


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


def default_checkpoint(setting: str, lambda3: float | None = None) -> str:
    """The stego checkpoint ``load_stego`` picks for ``setting``: the slides' lambdas with
    ``lambda3`` when given, else the setting's tuned default where shipped (else
    lambda3 = 2)."""
    s = SETTINGS[setting]
    if lambda3 is None and s.default is not None:
        return s.default
    return stego_checkpoint_name(setting, 2.0 if lambda3 is None else lambda3)


def stego_checkpoint_name(setting: str, lambda3: float = 2.0) -> str:
    """Shipped checkpoint name: ``stego-<setting>-lam3-<lambda3>`` (e.g. ...-lam3-2)."""
    return f"stego-{setting}-lam3-{lambda3:g}"

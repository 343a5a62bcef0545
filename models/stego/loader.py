"""Load shipped stego-family checkpoints (manifest- and sha256-checked) into a system."""

from __future__ import annotations

import os
from pathlib import Path

from semsim.models.checkpoint import (
    CHECKPOINT_DIR,
    CheckpointError,
    load_checkpoint,
    read_manifest,
)
from semsim.models.stego.jscc import DeepJSCC, JSCCConfig, JSCCDecoder
from semsim.models.stego.networks import INN, INNConfig, InversionNet
from semsim.models.stego.settings import SETTINGS, default_checkpoint
from semsim.models.stego.system import StegoSystem

__all__ = ["load_jscc", "load_stego"]


def _dir(directory: str | os.PathLike[str] | None) -> Path:
    """``directory``, or the shipped checkpoints' folder when None."""
    return Path(directory) if directory is not None else CHECKPOINT_DIR


def load_jscc(
    name: str, checkpoint_dir: str | os.PathLike[str] | None = None, device: str = "cpu"
) -> DeepJSCC:
    """Load a shipped DeepJSCC codec (e.g. ``jscc-gray28``) in eval mode."""
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
    else :func:`~semsim.models.stego.settings.default_checkpoint` (the slides' lambdas with
    ``lambda3`` if given, else the setting's tuned default where shipped).
    """
    if setting not in SETTINGS:
        raise KeyError(f"unknown stego setting {setting!r}; choose one of {sorted(SETTINGS)}")
    s = SETTINGS[setting]
    d = _dir(checkpoint_dir)
    jscc = load_jscc(s.jscc, d, "cpu")
    if name is None:
        name = default_checkpoint(setting, lambda3)
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

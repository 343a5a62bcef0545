"""INN steganography over DeepJSCC (Tang et al., GLOBECOM 2024, arXiv 2404.12170).

The package mirrors ``models.diffsem``: ``jscc`` (the shared DeepJSCC codec), ``networks``
(INN, Eve's inversion net), ``config`` (settings, checkpoint names, training configs),
``system`` (:class:`StegoSystem`), ``objective`` (the five-term loss), ``training``,
``evaluation`` and ``loader`` (:func:`load_stego`, :func:`load_jscc`). Names below are
imported lazily, so importing the package loads no torch.
"""

from __future__ import annotations

import importlib

__all__ = ["SETTINGS", "INN", "INNConfig", "InversionNet", "StegoSetting", "StegoSystem",
           "draw_pairs", "load_jscc", "load_stego", "stego_checkpoint_name"]

_HOME = {"SETTINGS": "config", "StegoSetting": "config", "draw_pairs": "config",
         "stego_checkpoint_name": "config", "INN": "networks", "INNConfig": "networks",
         "InversionNet": "networks", "StegoSystem": "system", "load_jscc": "loader",
         "load_stego": "loader"}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(name)

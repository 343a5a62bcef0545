"""DiffSem / E-DiffSem (arXiv 2506.19886): networks, receivers, training, evaluation.

Entry points: :func:`load_diffsem` (shipped checkpoints -> :class:`DiffSemSystem`),
:class:`DiffSemSystem` (``encode``, ``receive``, ``receive_ediffsem``, ``invert``,
``strong_classify``). Torch is imported lazily so the CLI stays light.
"""

from __future__ import annotations

__all__ = ["DiffSemConfig", "DiffSemSystem", "load_diffsem", "make_config"]


def __getattr__(name):
    if name in ("DiffSemConfig", "make_config"):
        from . import config

        return getattr(config, name)
    if name == "DiffSemSystem":
        from .system import DiffSemSystem

        return DiffSemSystem
    if name == "load_diffsem":
        from .loader import load_diffsem

        return load_diffsem
    raise AttributeError(name)

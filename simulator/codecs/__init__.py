"""Codecs the engine calls. ``CODECS`` maps scenario names to plugin modules.

A codec module defines ``Options`` (frozen dataclass, parsed from ``codec.options``) and
``build(options, *, seed_sequence, device) -> Codec``. ``stego`` and ``diffsem`` adapt the
neural models of :mod:`models` (loaded from the shipped checkpoints) without engine changes;
``diffsem-abstract`` and ``stego-abstract`` replace the networks by calibrated tables
(docs/abstraction.md).
"""

from __future__ import annotations

from semsim.simulator.codecs.base import (
    Codec,
    Transmission,
    batched_source,
    decode_many,
    resolve_device,
)
from semsim.simulator.plugins import Registry

__all__ = ["CODECS", "Codec", "Transmission", "batched_source", "decode_many",
           "resolve_device"]

CODECS = Registry("codec", {"reference": "semsim.simulator.codecs.reference",
                            "stego": "semsim.simulator.codecs.stego",
                            "diffsem": "semsim.simulator.codecs.diffsem",
                            "diffsem-abstract": "semsim.simulator.codecs.diffsem_abstract",
                            "stego-abstract": "semsim.simulator.codecs.stego_abstract"})

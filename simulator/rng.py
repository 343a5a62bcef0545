"""Randomness: one numpy SeedSequence per run, keyed (not counted) per replica and stream.

Streams are addressed by name, so adding an Eve never changes Bob's (or any other node's)
random stream, and the order in which streams are created does not matter.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["name_key", "seed_sequence", "stream"]


def name_key(name: str) -> int:
    """Stable 32-bit key of a stream name (blake2b; independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "little")


def seed_sequence(seed: int, replica: int, *names: str) -> np.random.SeedSequence:
    """SeedSequence for stream ``names`` of ``replica`` under run ``seed``."""
    key = (int(replica), *(name_key(n) for n in names))
    return np.random.SeedSequence(entropy=int(seed), spawn_key=key)


def stream(seed: int, replica: int, *names: str) -> np.random.Generator:
    """numpy Generator (PCG64) for stream ``names``; see :func:`seed_sequence`."""
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, replica, *names)))

"""Seeds by name: one numpy SeedSequence per run, keyed (not counted) per replica and stream.

The only home for deriving random streams, on both sides: the engine's per-node streams
(:func:`stream`) and the models' torch generators for training and evaluation
(:func:`torch_generator`). Streams are addressed by name, so adding an Eve never changes
Bob's (or any other node's) random stream, and the order in which streams are created does
not matter.
"""

from __future__ import annotations

import numpy as np

__all__ = ["name_key", "seed_sequence", "stream", "torch_generator", "torch_seed"]


def name_key(name: str) -> tuple[int, int]:
    """Spawn-key words of a stream name: (its UTF-8 length, its UTF-8 bytes as one integer).
    The whole name goes into the key (no hash), so two different names, or two different
    sequences of names, never share a stream (independent of PYTHONHASHSEED)."""
    data = name.encode()
    return len(data), int.from_bytes(data, "little")


def seed_sequence(seed: int, replica: int, *names: str) -> np.random.SeedSequence:
    """SeedSequence for stream ``names`` of ``replica`` under run ``seed``:
    ``spawn_key = (replica, *name_key(names[0]), *name_key(names[1]), ...)``."""
    key = (int(replica), *(word for n in names for word in name_key(n)))
    return np.random.SeedSequence(entropy=int(seed), spawn_key=key)


def stream(seed: int, replica: int, *names: str) -> np.random.Generator:
    """numpy Generator (PCG64) for stream ``names``; see :func:`seed_sequence`."""
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, replica, *names)))


def torch_seed(seed: int, *names: str, replica: int = 0) -> int:
    """63-bit torch seed for stream ``names`` under ``seed`` (from :func:`seed_sequence`)."""
    return int(seed_sequence(seed, replica, *names).generate_state(1, np.uint64)[0] >> 1)


def torch_generator(seed: int, *names: str, replica: int = 0, device: str = "cpu"):
    """``torch.Generator`` on ``device`` seeded by :func:`torch_seed` (torch imported lazily,
    so numpy-only callers never load it)."""
    import torch

    return torch.Generator(device=device).manual_seed(torch_seed(seed, *names,
                                                                 replica=replica))

"""Image source over the real datasets (MNIST, Fashion-MNIST, CIFAR-10 partial).

Registered in :data:`simulator.sources.SOURCES` as ``dataset``. Images come from
:func:`models.data.load_dataset` (sha256-verified files from ``data_dir``, else
``$SEMSIM_DATA``, else ``../shared/data``), in a seeded order: a fresh permutation of the
split each pass (``shuffle``), or file order. ``next`` answers ``images`` (B, C, H, W)
float32 in [0, 1], ``labels`` (B,) int64 and ``index`` (B,) rows of the split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from semsim.simulator.errors import check

__all__ = ["DatasetImages", "Options", "build"]


@dataclass(frozen=True)
class Options:
    """name: mnist | fashion | cifar10-partial; split: train | test; limit: use only the
    first ``limit`` images of the split (None: all); data_dir: None -> the default lookup."""

    name: Literal["mnist", "fashion", "cifar10-partial"] = "mnist"
    split: Literal["train", "test"] = "test"
    shuffle: bool = True
    limit: int | None = None
    data_dir: str | None = None

    def __post_init__(self) -> None:
        check(self.limit is None or self.limit >= 1, "limit", self.limit, "must be >= 1")


class DatasetImages:
    """Seeded stream over one split of a dataset (loaded once, held as numpy)."""

    def __init__(self, options: Options, rng: np.random.Generator) -> None:
        from semsim.models.data import load_dataset

        data = load_dataset(options.name, options.split, options.data_dir)
        n = len(data) if options.limit is None else min(options.limit, len(data))
        self.options = options
        self.rng = rng
        self.images = data.images[:n].numpy()
        self.labels = data.labels[:n].numpy()
        self._order = np.empty(0, dtype=np.int64)
        self._pos = 0

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def next(self, batch_size: int = 1) -> dict[str, np.ndarray]:
        """{"images": (B, C, H, W) float32, "labels": (B,) int64, "index": (B,) int64}."""
        n = len(self)
        idx = np.empty(batch_size, dtype=np.int64)
        filled = 0
        while filled < batch_size:
            if self._pos >= self._order.size:
                self._order = self.rng.permutation(n) if self.options.shuffle else np.arange(n)
                self._pos = 0
            take = min(batch_size - filled, self._order.size - self._pos)
            idx[filled:filled + take] = self._order[self._pos:self._pos + take]
            filled += take
            self._pos += take
        return {"images": self.images[idx], "labels": self.labels[idx], "index": idx}


def build(options: Options, *, rng: np.random.Generator, **_: object) -> DatasetImages:
    """Plugin entry point."""
    return DatasetImages(options, rng)

"""Image sources Alice draws packets from. ``synthetic`` needs no dataset.

A source is built as ``build(options, rng=Generator)`` and answers ``next(batch_size)``
with a dict holding at least ``images``: float array (B, C, H, W) in [0, 1]; dataset
sources may add ``labels`` (B,). Register more with ``SOURCES.register(name, module)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from semsim.simulator.errors import MAX_BATCH, check, check_range
from semsim.simulator.plugins import Registry

__all__ = ["MAX_POOL_VALUES", "SOURCES", "Options", "SyntheticImages", "build"]

SOURCES = Registry("image source", {"synthetic": "semsim.simulator.sources",
                                      "dataset": "semsim.simulator.datasets"})


#: most pixel values one chunk of synthetic images may hold (256 MB as float64)
MAX_POOL_VALUES = 2**25


@dataclass(frozen=True)
class Options:
    """Synthetic smooth random fields: white noise low-passed by a Gaussian kernel of
    width ``smoothness_px``, then min-max scaled to [0, 1]; generated ``chunk`` at a time.
    Bounds: image_size 2 .. 1024, channels 1 .. 16, smoothness_px <= 1e4, chunk 1 .. 65536
    and at most :data:`MAX_POOL_VALUES` pixel values per chunk."""

    image_size: int = 16
    channels: int = 1
    smoothness_px: float = 2.0
    chunk: int = 256

    def __post_init__(self) -> None:
        check_range(self.image_size, "image_size", 2, 1024)
        check_range(self.channels, "channels", 1, 16)
        check_range(self.smoothness_px, "smoothness_px", 0.0, 1e4)
        check_range(self.chunk, "chunk", 1, MAX_BATCH)
        check(self.chunk * self.channels * self.image_size**2 <= MAX_POOL_VALUES, "chunk",
              self.chunk, f"chunk x channels x image_size^2 must be <= {MAX_POOL_VALUES} "
              "(the pool of generated images)")


class SyntheticImages:
    """Deterministic (given its generator) stream of smooth random images."""

    def __init__(self, options: Options, rng: np.random.Generator) -> None:
        self.options = options
        self.rng = rng
        n = options.image_size
        k = np.fft.fftfreq(n)
        k2 = k[:, None] ** 2 + k[None, :] ** 2
        self._filter = np.exp(-2.0 * (math.pi * options.smoothness_px) ** 2 * k2)
        self._pool = np.empty((0, options.channels, n, n))
        self._pos = 0

    def _refill(self) -> None:
        o = self.options
        noise = self.rng.standard_normal((o.chunk, o.channels, o.image_size, o.image_size))
        field = np.fft.ifft2(np.fft.fft2(noise) * self._filter).real
        lo = field.min(axis=(-2, -1), keepdims=True)
        hi = field.max(axis=(-2, -1), keepdims=True)
        self._pool = (field - lo) / np.maximum(hi - lo, 1e-12)
        self._pos = 0

    def next(self, batch_size: int = 1) -> dict[str, np.ndarray]:
        """{"images": (batch_size, C, H, W)} in [0, 1]."""
        if self._pos + batch_size > len(self._pool):
            if batch_size > self.options.chunk:
                raise ValueError(f"batch_size {batch_size} > chunk {self.options.chunk}")
            self._refill()
        out = self._pool[self._pos:self._pos + batch_size]
        self._pos += batch_size
        return {"images": out}


def build(options: Options, *, rng: np.random.Generator, **_: object) -> SyntheticImages:
    """Plugin entry point."""
    return SyntheticImages(options, rng)

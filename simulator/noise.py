"""Receiver noise drawn one block ahead on a background thread.

Each receiver draws its channel noise from its own ``noise`` stream: ``width`` standard
normals per packet, packets in order, a block of ``n`` packets per call (receiver-major,
(R, n, width)). Filling a block is the largest single cost of a big receiver bank (64
normals per receiver and packet), and numpy's generators release the GIL while they fill,
so :class:`NoiseBlocks` draws the block it expects to be asked for next on a worker thread
while the simulation goes on. The values never depend on the prefetching: every stream
records its state before a block is drawn ahead, and a block that is not the one asked for
(another start, length or width) is put back: the streams return to those states and the
requested block is drawn as if nothing had been drawn ahead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

__all__ = ["NoiseBlocks"]

_LOCK = threading.Lock()
_POOL: tuple[int, ThreadPoolExecutor] | None = None  # (pid, pool): rebuilt after a fork


def _pool() -> ThreadPoolExecutor:
    """The process's one noise thread (a forked child makes its own: the parent's thread
    does not exist there)."""
    global _POOL
    with _LOCK:
        if _POOL is None or _POOL[0] != os.getpid():
            _POOL = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="semsim-noise"))
        return _POOL[1]


def _fill(rngs: list[np.random.Generator], n: int, width: int,
          finish: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``finish`` of (R, n, width) standard normals, row i from ``rngs[i]`` (one call per
    receiver)."""
    z = np.empty((len(rngs), n, width))
    for i, g in enumerate(rngs):
        g.standard_normal((n, width), out=z[i])
    return finish(z)


def _restore(rngs: list[np.random.Generator], states: list[dict]) -> None:
    """Put every stream back to its recorded state."""
    for g, state in zip(rngs, states, strict=True):
        g.bit_generator.state = state


class NoiseBlocks:
    """Blocks of per-receiver standard normals from ``rngs`` (R generators), keyed by the
    absolute packet index of their first row. ``take(start, n, width, finish)`` returns
    ``finish`` of the (R, n, width) normals: exactly what drawing them now would give,
    whatever was prefetched; ``prefetch(start, n, width, finish)`` starts drawing (and
    finishing: an elementwise transform such as the equalisation, done on the worker too)
    the block expected next. A block's ``finish`` depends only on its key's packets."""

    def __init__(self, rngs: list[np.random.Generator]) -> None:
        self.rngs = rngs
        self._ahead: tuple[tuple[int, int, int], Future, list[dict]] | None = None

    def take(self, start: int, n: int, width: int,
             finish: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The block of packets start .. start + n - 1, ``width`` normals each."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            key, future, states = ahead
            block = future.result()  # waits; a failed draw raises here
            if key == (start, n, width):
                return block
            _restore(self.rngs, states)  # not the block asked for: put it back
        return _fill(self.rngs, n, width, finish)

    def prefetch(self, start: int, n: int, width: int,
                 finish: Callable[[np.ndarray], np.ndarray]) -> None:
        """Start drawing block (start, n, width) on the worker thread (one block ahead at
        most: call after :meth:`take`)."""
        if self._ahead is not None:
            raise RuntimeError("a block is already being drawn ahead")
        states = [g.bit_generator.state for g in self.rngs]
        self._ahead = ((start, n, width), _pool().submit(_fill, self.rngs, n, width,
                                                             finish), states)

    def close(self) -> None:
        """Wait for a block drawn ahead and put it back (the streams as if never drawn)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead[1].exception()
            _restore(self.rngs, ahead[2])

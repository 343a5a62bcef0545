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

Blocks are drawn into recycled buffers (two, for the block in use and the one drawn
ahead): a fresh 32 MB array per block costs as much in page faults (the kernel zeroing
new pages) as the equalisation applied to it. So a block that ``take`` returned stays
valid only until the next ``take`` or ``close``.
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
          finish: Callable[[np.ndarray], np.ndarray], buffer: np.ndarray) -> np.ndarray:
    """``finish`` of (R, n, width) standard normals, row i from ``rngs[i]`` (one call per
    receiver), drawn into the start of the flat float64 ``buffer`` (``finish`` may work in
    place)."""
    z = buffer[:len(rngs) * n * width].reshape(len(rngs), n, width)
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
    finishing: an elementwise transform such as the equalisation, done on the worker too,
    which may overwrite its input) the block expected next. A block's ``finish`` depends
    only on its key's packets. A taken block is valid until the next ``take`` or ``close``
    (its buffer is then drawn into again)."""

    def __init__(self, rngs: list[np.random.Generator]) -> None:
        self.rngs = rngs
        self._ahead: tuple[tuple[int, int, int], Future, list[dict], np.ndarray] | None = None
        self._free: list[np.ndarray] = []  # flat float64 buffers not in use
        self._taken: np.ndarray | None = None  # the buffer behind the block last taken

    def _buffer(self, size: int) -> np.ndarray:
        """A free flat buffer of at least ``size`` values (a new one if none is)."""
        while self._free:
            buf = self._free.pop()
            if buf.size >= size:
                return buf
        return np.empty(size)

    def take(self, start: int, n: int, width: int,
             finish: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The block of packets start .. start + n - 1, ``width`` normals each."""
        if self._taken is not None:  # the previous block is done with
            self._free.append(self._taken)
            self._taken = None
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            key, future, states, buf = ahead
            try:
                block = future.result()  # waits; a failed draw raises here
            except BaseException:
                self._free.append(buf)
                raise
            if key == (start, n, width):
                self._taken = buf
                return block
            self._free.append(buf)
            _restore(self.rngs, states)  # not the block asked for: put it back
        buf = self._taken = self._buffer(len(self.rngs) * n * width)
        return _fill(self.rngs, n, width, finish, buf)

    def prefetch(self, start: int, n: int, width: int,
                 finish: Callable[[np.ndarray], np.ndarray]) -> None:
        """Start drawing block (start, n, width) on the worker thread (one block ahead at
        most: call after :meth:`take`)."""
        if self._ahead is not None:
            raise RuntimeError("a block is already being drawn ahead")
        states = [g.bit_generator.state for g in self.rngs]
        buf = self._buffer(len(self.rngs) * n * width)
        self._ahead = ((start, n, width), _pool().submit(_fill, self.rngs, n, width, finish,
                                                             buf), states, buf)

    def close(self) -> None:
        """Wait for a block drawn ahead and put it back (the streams as if never drawn);
        free the buffers."""
        ahead, self._ahead = self._ahead, None
        self._free, self._taken = [], None
        if ahead is not None:
            ahead[1].exception()
            _restore(self.rngs, ahead[2])

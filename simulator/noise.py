"""Receiver noise drawn one block ahead on a background thread.

Each receiver draws its channel noise from its own ``noise`` stream: ``width`` standard
normals per packet, packets in order, a block of ``n`` packets per call (receiver-major,
(R, n, width)). Filling a block is the largest single cost of a big receiver bank (64
normals per receiver and packet), and numpy's generators release the GIL while they fill,
so :class:`NoiseBlocks` draws the block it expects to be asked for next on a worker thread
while the simulation goes on. A caller that asks for the block before the worker is done
draws the receivers the worker has not reached itself, from the back (runs of
:data:`RUN_RECEIVERS`; each stream is drawn by one thread only), instead of waiting: the
two cores then share the draw. The values never depend on the prefetching: every stream
records its state before a block is drawn ahead, and a block that is not the one asked for
(another start, length or width) is put back: the streams return to those states and the
requested block is drawn as if nothing had been drawn ahead.

Blocks are drawn into recycled buffers (two, for the block in use and the one drawn
ahead), and finished (e.g. equalised) in place: a fresh 32 MB array per block costs as
much in page faults (the kernel zeroing new pages) as the equalisation applied to it. So a
block that ``take`` returned stays valid only until the next ``take`` or ``close``.
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


#: receivers per claim of a block's draw (the worker from the front, a waiting caller from
#: the back)
RUN_RECEIVERS = 8

#: finish(z, rows): transform rows ``rows`` (a slice of receivers) of a block in place,
#: z being those rows (len(rows), n, width) of the block's buffer
Finish = Callable[[np.ndarray, slice], None]


class _Draw:
    """One block's draw into the flat float64 ``buffer``: receivers are claimed in runs of
    :data:`RUN_RECEIVERS`, from the front by the worker, from the back by a caller that
    would otherwise wait; each run is drawn (row i from ``rngs[i]``) and finished by the
    thread that claimed it."""

    def __init__(self, rngs: list[np.random.Generator], n: int, width: int, finish: Finish,
                 buffer: np.ndarray) -> None:
        self.rngs, self.n, self.width, self.finish = rngs, n, width, finish
        self.block = buffer[:len(rngs) * n * width].reshape(len(rngs), n, width)
        self._lock = threading.Lock()
        self._lo, self._hi = 0, len(rngs)  # receivers lo .. hi - 1 are not claimed yet

    def _claim(self, front: bool) -> slice | None:
        with self._lock:
            if self._lo >= self._hi:
                return None
            if front:
                a, b = self._lo, min(self._hi, self._lo + RUN_RECEIVERS)
                self._lo = b
            else:
                a, b = max(self._lo, self._hi - RUN_RECEIVERS), self._hi
                self._hi = a
        return slice(a, b)

    def run(self, front: bool = True) -> np.ndarray:
        """Draw and finish claimed runs until none is left; the block (R, n, width)."""
        z = self.block
        while (rows := self._claim(front)) is not None:
            for i in range(rows.start, rows.stop):
                self.rngs[i].standard_normal((self.n, self.width), out=z[i])
            self.finish(z[rows], rows)
        return z

    def stop(self) -> None:
        """Claim nothing more (the runs in flight finish)."""
        with self._lock:
            self._hi = self._lo


def _restore(rngs: list[np.random.Generator], states: list[dict]) -> None:
    """Put every stream back to its recorded state."""
    for g, state in zip(rngs, states, strict=True):
        g.bit_generator.state = state


class NoiseBlocks:
    """Blocks of per-receiver standard normals from ``rngs`` (R generators), keyed by the
    absolute packet index of their first row. ``take(start, n, width, finish)`` returns
    the (R, n, width) normals finished by ``finish`` (:data:`Finish`: an elementwise
    transform such as the equalisation, in place, row range by row range): exactly what
    drawing them now would give, whatever was prefetched; ``prefetch(start, n, width,
    finish)`` starts drawing and finishing the block expected next on the worker thread. A
    block's ``finish`` depends only on its key's packets. A taken block is valid until the
    next ``take`` or ``close`` (its buffer is then drawn into again)."""

    def __init__(self, rngs: list[np.random.Generator]) -> None:
        self.rngs = rngs
        self._ahead: tuple[tuple[int, int, int], Future, list[dict], _Draw, np.ndarray] | None
        self._ahead = None
        self._free: list[np.ndarray] = []  # flat float64 buffers not in use
        self._taken: np.ndarray | None = None  # the buffer behind the block last taken

    def _buffer(self, size: int) -> np.ndarray:
        """A free flat buffer of at least ``size`` values (a new one if none is)."""
        while self._free:
            buf = self._free.pop()
            if buf.size >= size:
                return buf
        return np.empty(size)

    def take(self, start: int, n: int, width: int, finish: Finish) -> np.ndarray:
        """The block of packets start .. start + n - 1, ``width`` normals each (R, n,
        width). A block drawn ahead that the worker has not finished is finished here, this
        thread drawing the receivers the worker has not reached."""
        if self._taken is not None:  # the previous block is done with
            self._free.append(self._taken)
            self._taken = None
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            key, future, states, draw, buf = ahead
            if key == (start, n, width):
                try:
                    draw.run(front=False)
                    block = future.result()  # waits for the worker's last run
                except BaseException:
                    draw.stop()
                    future.exception()
                    self._free.append(buf)
                    raise
                self._taken = buf
                return block
            draw.stop()  # not the block asked for: put it back
            future.exception()
            self._free.append(buf)
            _restore(self.rngs, states)
        buf = self._taken = self._buffer(len(self.rngs) * n * width)
        return _Draw(self.rngs, n, width, finish, buf).run()

    def prefetch(self, start: int, n: int, width: int, finish: Finish) -> None:
        """Start drawing block (start, n, width) on the worker thread (one block ahead at
        most: call after :meth:`take`)."""
        if self._ahead is not None:
            raise RuntimeError("a block is already being drawn ahead")
        states = [g.bit_generator.state for g in self.rngs]
        buf = self._buffer(len(self.rngs) * n * width)
        draw = _Draw(self.rngs, n, width, finish, buf)
        self._ahead = ((start, n, width), _pool().submit(draw.run), states, draw, buf)

    def close(self) -> None:
        """Stop a block being drawn ahead and put it back (the streams as if never drawn);
        free the buffers."""
        ahead, self._ahead = self._ahead, None
        self._free, self._taken = [], None
        if ahead is not None:
            ahead[3].stop()
            ahead[1].exception()
            _restore(self.rngs, ahead[2])

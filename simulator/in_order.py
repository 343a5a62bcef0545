"""Calls run in order on one background thread, their results taken oldest first.

The trace writer writes its Parquet parts this way and the decode queue its decodes
(``codec.decode_behind``): the work goes on while the simulation does (pyarrow and torch
release the GIL), and what the caller takes back comes in the order it was submitted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["InOrder"]


class InOrder:
    """Submitted calls run one at a time, in order, on one thread (started at the first
    call, named ``name``); each carries a ``tag`` for the caller. A failed call raises from
    :meth:`results` once every call queued with it has finished (none is left half done);
    those are dropped and the thread is stopped."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pool: ThreadPoolExecutor | None = None
        self._calls: deque[tuple[Future, Any]] = deque()

    def __len__(self) -> int:
        """Calls submitted and not yet taken."""
        return len(self._calls)

    def submit(self, fn: Callable[..., Any], *args: Any, tag: Any = None) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix=self.name)
        self._calls.append((self._pool.submit(fn, *args), tag))

    def results(self, max_waiting: int, finished: bool = False) -> Iterator[tuple[Any, Any]]:
        """(tag, result) of the oldest calls, one at a time, waiting until at most
        ``max_waiting`` are left; ``finished``: also those already done beyond that."""
        while self._calls and (len(self._calls) > max_waiting
                               or (finished and self._calls[0][0].done())):
            future, tag = self._calls.popleft()
            try:
                result = future.result()
            except BaseException:
                for later, _ in self._calls:
                    later.exception()  # wait for it; the first failure is the one raised
                self._calls.clear()
                self.close()
                raise
            yield tag, result

    def close(self) -> None:
        """Stop the thread once its calls are done (a later ``submit`` starts a new one)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

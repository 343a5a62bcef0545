"""Progress for long commands: a tqdm bar on a terminal, periodic plain lines otherwise
(logs of a killed run or sweep then show how far it got)."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """``with Progress(total, desc, unit) as p: p.update(n)``. On a terminal (stderr is a
    TTY) a tqdm bar; else a line ``desc: done/total unit (pct), elapsed`` on stderr every
    ``interval_s`` seconds and at the end. ``enabled=False`` prints nothing."""

    def __init__(self, total: int, desc: str, unit: str, *, enabled: bool = True,
                 interval_s: float = 10.0) -> None:
        self.total, self.desc, self.unit = int(total), desc, unit
        self.enabled, self.interval_s = enabled, interval_s
        self.done = 0
        self._bar = None
        self._start = self._last = time.monotonic()

    def __enter__(self) -> Progress:
        if self.enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit=self.unit, desc=self.desc,
                             mininterval=0.5)
        return self

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.enabled and time.monotonic() - self._last >= self.interval_s:
            self._line()

    def _line(self) -> None:
        self._last = time.monotonic()
        pct = 100.0 * self.done / self.total if self.total else 100.0
        print(f"{self.desc}: {self.done}/{self.total} {self.unit} ({pct:.0f} %), "
              f"{self._last - self._start:.0f} s", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            self._line()

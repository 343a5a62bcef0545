"""Alice's traffic: when packets are sent (periodic or Poisson arrivals), and its config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from semsim.simulator.errors import MAX_TIME_S, check_range

__all__ = ["TrafficConfig", "TrafficSchedule"]


@dataclass(frozen=True)
class TrafficConfig:
    """Alice's packet arrivals: ``periodic`` every interval_s from start_s, or ``poisson``
    with mean inter-arrival interval_s (first packet one draw after start_s)."""

    kind: Literal["periodic", "poisson"] = "periodic"
    interval_s: float = 1e-3
    start_s: float = 0.0

    def __post_init__(self) -> None:
        check_range(self.interval_s, "interval_s", 0.0, MAX_TIME_S, lo_open=True)
        check_range(self.start_s, "start_s", 0.0, MAX_TIME_S)


class TrafficSchedule:
    """Alice's packet times, generated ahead in chunks (exogenous: they never depend on
    feedback), so the link can prepare the channel for upcoming packets in one go.

    periodic: t_k = start_s + k * interval_s; poisson: t_k = start_s + sum of k + 1
    exponential gaps (mean interval_s). The run ends after ``num_packets`` or at
    ``duration_s`` (packets at t <= duration_s are sent).
    """

    def __init__(self, traffic: TrafficConfig, rng: np.random.Generator,
                 num_packets: int | None, duration_s: float | None, chunk: int = 1024) -> None:
        self.traffic, self.rng, self.chunk = traffic, rng, chunk
        self.num_packets, self.duration_s = num_packets, duration_s
        self._t = np.empty(0)
        self._done = False  # every time of the run has been generated

    def _grow(self) -> None:
        t, n = self.traffic, len(self._t)
        if t.kind == "periodic":
            new = t.start_s + t.interval_s * np.arange(n, n + self.chunk, dtype=float)
        else:
            last = self._t[-1] if n else t.start_s
            gaps = self.rng.exponential(t.interval_s, self.chunk)
            new = np.cumsum(np.concatenate([[last], gaps]))[1:]  # sequential: chunk-free
        if self.num_packets is not None and n + len(new) >= self.num_packets:
            new, self._done = new[:self.num_packets - n], True
        if self.duration_s is not None and new.size and new[-1] > self.duration_s:
            new, self._done = new[new <= self.duration_s], True
        self._t = np.concatenate([self._t, new])

    def times(self, start: int, count: int) -> np.ndarray:
        """Times (s) of packets start .. start + count - 1 (fewer at the end of the run)."""
        while len(self._t) < start + count and not self._done:
            self._grow()
        return self._t[start:start + count]

    def time_of(self, k: int) -> float | None:
        """Time of packet k, or None when the run has ended before it."""
        t = self.times(k, 1)
        return float(t[0]) if t.size else None

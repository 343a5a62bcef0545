"""The feedback channel from Bob to Alice, and active Eves who forge reports on it.

Bob reports his SNR estimate for every packet; each report reaches Alice
``bob.estimator.feedback_delay_s`` later. The channel is unauthenticated: an Eve with
``forge_feedback`` overhears Bob's report and, with probability ``probability``, injects a
forged copy whose SNR is Bob's plus ``bias_db`` (negative: Alice under-estimates Bob's SNR
and, for DiffSem, adds less self-noise). It arrives right after Bob's, so Alice acts on it,
unless she authenticates feedback (``alice.authenticate_feedback``) and drops it. The trace
says which report each packet used (``feedback_sender``, ``feedback_forged``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import simpy

from semsim.simulator.errors import check

__all__ = ["FeedbackChannel", "ForgeConfig", "Report"]


@dataclass(frozen=True)
class Report:
    """An SNR report for packet ``packet_id``, measured at ``time_s``: Bob's, or forged by
    the Eve named ``sender``."""

    packet_id: int
    time_s: float
    snr_est_db: float
    sender: str = "bob"
    forged: bool = False


@dataclass(frozen=True)
class ForgeConfig:
    """An active Eve's forgery: per report of Bob's, with ``probability``, a copy with his
    SNR + ``bias_db`` (dB)."""

    bias_db: float = -10.0
    probability: float = 1.0

    def __post_init__(self) -> None:
        check(math.isfinite(self.bias_db) and abs(self.bias_db) <= 100, "bias_db",
              self.bias_db, "must be finite, within +-100 dB")
        check(0 <= self.probability <= 1, "probability", self.probability,
              "must be in [0, 1]")


class FeedbackChannel:
    """Bob -> Alice reports, each delivered ``delay_s`` after it was sent (FIFO). Active
    Eves (``forgers``) overhear each of Bob's reports and, with their probability, inject
    a forged copy (SNR + their bias) that arrives right after it, so Alice uses it.

    A report due at the same instant as a transmission is used for it: reports are
    delivered ``TIE_S`` (1 ps) early so floating-point rounding of equal times cannot
    change the order.
    """

    TIE_S = 1e-12

    def __init__(self, env: simpy.Environment, delay_s: float,
                 deliver: Callable[[Report, float], None],
                 forgers: Sequence[tuple[str, ForgeConfig, np.random.Generator]] = ()) -> None:
        self.env, self.delay_s, self.deliver = env, float(delay_s), deliver
        self.forgers = list(forgers)
        self.queue = simpy.Store(env)
        self.process = env.process(self.run())

    def send(self, report: Report) -> None:
        """Bob sends ``report``; each forger then injects its forged copy or not."""
        self.queue.put(report)
        for name, cfg, rng in self.forgers:  # one draw per forger and report
            if rng.random() < cfg.probability:
                self.queue.put(replace(report, snr_est_db=report.snr_est_db + cfg.bias_db,
                                       sender=name, forged=True))

    def run(self):
        while True:
            report = yield self.queue.get()
            due = report.time_s + self.delay_s
            if due - self.TIE_S > self.env.now:
                yield self.env.timeout(due - self.TIE_S - self.env.now)
            self.deliver(report, due)

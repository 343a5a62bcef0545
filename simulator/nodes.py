"""SimPy processes of the nodes: Alice, the receivers (Bob, Eves) and Bob's feedback.

Processes are thin generators: the physics lives in ``semsim.simulator.bank.ReceiverBank`` and
the modules it uses, the fan-out in ``semsim.simulator.broadcast.BroadcastLink``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from semsim.simulator.traffic import TrafficSchedule

__all__ = ["Alice", "FeedbackChannel", "Packet", "Receiver", "Report"]


@dataclass(frozen=True)
class Report:
    """Bob's SNR report: his estimate for packet ``packet_id``, measured at ``time_s``."""

    packet_id: int
    time_s: float
    snr_est_db: float


@dataclass
class Packet:
    """One transmission event: what Alice sent and the SNR report she used for it."""

    packet_id: int
    time_s: float
    tx: Any  # simulator.codecs.Transmission
    snr_est_db: float
    feedback_packet_id: int
    feedback_time_s: float


class Alice:
    """Transmitter: waits for the traffic model, encodes one source packet with the SNR
    Bob last reported and hands it to the broadcast link."""

    def __init__(self, env: simpy.Environment, *, link, codec, source,
                 schedule: TrafficSchedule, initial_snr_est_db: float,
                 log: list | None = None, progress: Callable[[int], None] | None = None) -> None:
        self.env, self.link, self.codec, self.source = env, link, codec, source
        self.schedule = schedule
        self.report = Report(-1, math.nan, float(initial_snr_est_db))
        self.log, self.progress = log, progress
        self.num_sent = 0
        self.process = env.process(self.run())

    def run(self):
        env, schedule = self.env, self.schedule
        while (t := schedule.time_of(self.num_sent)) is not None:
            yield env.timeout(max(t - env.now, 0.0))
            rep = self.report
            tx = self.codec.encode(self.source.next(1), np.array([rep.snr_est_db]))
            packet = Packet(self.num_sent, t, tx, rep.snr_est_db, rep.packet_id, rep.time_s)
            if self.log is not None:
                self.log.append((t, "alice", "tx", packet.packet_id))
            self.link.transmit(packet)
            self.num_sent += 1
            if self.progress is not None and self.num_sent % 100 == 0:
                self.progress(100)
        if self.progress is not None and self.num_sent % 100:
            self.progress(self.num_sent % 100)

    def on_feedback(self, report: Report, due_s: float) -> None:
        """Called by the feedback channel when Bob's report arrives (due at ``due_s``)."""
        self.report = report
        if self.log is not None:
            self.log.append((due_s, "alice", "feedback", report.packet_id))


class FeedbackChannel:
    """Bob -> Alice reports, each delivered ``delay_s`` after it was sent (FIFO).

    A report due at the same instant as a transmission is used for it: reports are
    delivered ``TIE_S`` (1 ps) early so floating-point rounding of equal times cannot
    change the order.
    """

    TIE_S = 1e-12

    def __init__(self, env: simpy.Environment, delay_s: float,
                 deliver: Callable[[Report, float], None]) -> None:
        self.env, self.delay_s, self.deliver = env, float(delay_s), deliver
        self.queue = simpy.Store(env)
        self.process = env.process(self.run())

    def send(self, report: Report) -> None:
        self.queue.put(report)

    def run(self):
        while True:
            report = yield self.queue.get()
            due = report.time_s + self.delay_s
            if due - self.TIE_S > self.env.now:
                yield self.env.timeout(due - self.TIE_S - self.env.now)
            self.deliver(report, due)


class Receiver:
    """Bob or an Eve: takes each reception from its inbox (the broadcast link fills it);
    Bob reports his SNR estimate back to Alice through the feedback channel."""

    def __init__(self, env: simpy.Environment, name: str, role: str, index: int,
                 inbox: simpy.Store, feedback: FeedbackChannel | None = None,
                 log: list | None = None) -> None:
        self.env, self.name, self.role, self.index = env, name, role, index
        self.inbox, self.feedback, self.log = inbox, feedback, log
        self.num_received = 0
        self.process = env.process(self.run())

    def run(self):
        i = self.index
        while True:
            packet, snr_rx_est_db = yield self.inbox.get()
            self.num_received += 1
            if self.log is not None:
                self.log.append((self.env.now, self.name, "rx", packet.packet_id))
            if self.feedback is not None:
                self.feedback.send(Report(packet.packet_id, packet.time_s,
                                          float(snr_rx_est_db[i])))

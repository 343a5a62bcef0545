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

from semsim.simulator.feedback import FeedbackChannel, Report
from semsim.simulator.traffic import TrafficSchedule

__all__ = ["Alice", "Packet", "Receiver"]


@dataclass
class Packet:
    """One transmission event: what Alice sent and the SNR report she used for it."""

    packet_id: int
    time_s: float
    tx: Any  # simulator.codecs.Transmission
    snr_est_db: float
    feedback_packet_id: int
    feedback_time_s: float
    feedback_sender: str = "none"
    feedback_forged: bool = False


class Alice:
    """Transmitter: waits for the traffic model, encodes one source packet with the SNR
    Bob last reported and hands it to the broadcast link."""

    def __init__(self, env: simpy.Environment, *, link, codec, source,
                 schedule: TrafficSchedule, initial_snr_est_db: float,
                 authenticate_feedback: bool = False,
                 log: list | None = None, progress: Callable[[int], None] | None = None) -> None:
        self.env, self.link, self.codec, self.source = env, link, codec, source
        self.schedule = schedule
        self.report = Report(-1, math.nan, float(initial_snr_est_db), sender="none")
        self.authenticate = authenticate_feedback
        self.log, self.progress = log, progress
        self.num_sent = 0
        self.process = env.process(self.run())

    def run(self):
        env, schedule = self.env, self.schedule
        while (t := schedule.time_of(self.num_sent)) is not None:
            yield env.timeout(max(t - env.now, 0.0))
            rep = self.report
            tx = self.codec.encode(self.source.next(1), np.array([rep.snr_est_db]))
            packet = Packet(self.num_sent, t, tx, rep.snr_est_db, rep.packet_id, rep.time_s,
                            rep.sender, rep.forged)
            if self.log is not None:
                self.log.append((t, "alice", "tx", packet.packet_id))
            self.link.transmit(packet)
            self.num_sent += 1
            if self.progress is not None and self.num_sent % 100 == 0:
                self.progress(100)
        if self.progress is not None and self.num_sent % 100:
            self.progress(self.num_sent % 100)

    def on_feedback(self, report: Report, due_s: float) -> None:
        """Called by the feedback channel when a report arrives (due at ``due_s``): Alice
        uses the latest one, except forged reports when she authenticates feedback."""
        if report.forged and self.authenticate:
            if self.log is not None:
                self.log.append((due_s, "alice", "drop_forged", report.packet_id))
            return
        self.report = report
        if self.log is not None:
            self.log.append((due_s, "alice", "feedback", report.packet_id))


class Receiver:
    """A receiver that acts on its receptions, as a SimPy process: Bob, who reports each
    packet's SNR estimate (his own, index ``index`` of the reception's estimates) to Alice
    through the feedback channel. Receivers that only receive run no process (the
    broadcast link counts them)."""

    def __init__(self, env: simpy.Environment, name: str, index: int, inbox: simpy.Store,
                 feedback: FeedbackChannel) -> None:
        self.env, self.name, self.index = env, name, index
        self.inbox, self.feedback = inbox, feedback
        self.process = env.process(self.run())

    def run(self):
        i = self.index
        while True:
            packet, snr_rx_est_db = yield self.inbox.get()
            self.feedback.send(Report(packet.packet_id, packet.time_s,
                                      float(snr_rx_est_db[i])))

"""Alice's broadcast link: one transmission to every receiver at once, the channel from the
receiver bank, one decode queue, trace rows.

The fan-out costs one event per packet, not one per receiver: receivers that only receive
(Eves) are counted and logged here for all at once, vectorised like the bank; only
receivers that act on a reception (Bob, who reports his SNR) subscribe an inbox and run as
SimPy processes (like SimPy's BroadcastPipe, for those)."""

from __future__ import annotations

import numpy as np
import simpy

from semsim.simulator.bank import ReceiverBank
from semsim.simulator.coalitions import Combiner
from semsim.simulator.decode_queue import DecodeQueue
from semsim.simulator.nodes import Packet
from semsim.simulator.trace import PacketRows, TraceWriter

__all__ = ["BroadcastLink"]


class BroadcastLink:
    """Alice's one broadcast link: channel for all receivers at once, one batched decode,
    trace rows; every receiver receives every packet (``num_delivered``; with an event
    ``log``, one ``rx`` entry per receiver in receiver order), and the inboxes of acting
    receivers get ``(packet, snr_rx_est_db (R,))``."""

    def __init__(self, env: simpy.Environment, *, bank: ReceiverBank, names: list[str],
                 roles: list[str], codec, trace: TraceWriter, decode_batch_packets: int = 1,
                 queue: DecodeQueue | None = None, log: list | None = None,
                 combiner: Combiner | None = None) -> None:
        self.env, self.bank, self.codec, self.trace = env, bank, codec, trace
        self.combiner = combiner
        self.names, self.roles, self.log = tuple(names), tuple(roles), log
        self.inboxes: list[simpy.Store] = []
        self.queue = queue or DecodeQueue(codec, roles, decode_batch_packets)
        self.num_delivered = 0  # packets every receiver has received
        self._header_keys: object = None  # the last header's keys and their h_ columns
        self._header_columns: list[tuple[str, str]] = []

    def subscribe(self) -> simpy.Store:
        """A new inbox (SimPy Store) that gets every transmission, for a receiver that acts
        on its receptions."""
        store = simpy.Store(self.env)
        self.inboxes.append(store)
        return store

    def transmit(self, packet: Packet) -> None:
        """Deliver ``packet`` to every receiver (called by Alice at the packet's time)."""
        tx = packet.tx
        obs = self.bank.observe(packet.packet_id, np.asarray(tx.symbols, dtype=np.float64),
                               tx.power_per_real)
        if self.combiner is None:  # the bank's chunk rows, copied when the trace is written
            true_db = obs.shared["snr_true_db"][obs.index]
            rows = PacketRows({"snr_mismatch_db": packet.snr_est_db - true_db}, obs.shared,
                              obs.index)
            received = obs.received
        else:  # colluding Eves: virtual receivers after the others
            own, received = self.combiner(obs.rows, obs.received, self.bank.is_eve)
            own["snr_mismatch_db"] = packet.snr_est_db - own["snr_true_db"]
            rows = PacketRows(own)
        event = {
            "packet_id": packet.packet_id,
            "time_s": packet.time_s,
            "codec": self.codec.name,
            "tx_x_m": obs.tx_state[0],
            "tx_y_m": obs.tx_state[1],
            "snr_est_db": packet.snr_est_db,
            "feedback_packet_id": packet.feedback_packet_id,
            "feedback_age_s": packet.time_s - packet.feedback_time_s,
            "feedback_sender": packet.feedback_sender,
            "feedback_forged": packet.feedback_forged,
        }
        header = tx.header
        if header.keys() != self._header_keys:  # which header fields become h_ columns
            self._header_keys = header.keys()
            self._header_columns = [(k, f"h_{k}") for k, v in header.items()
                                    if isinstance(v, (int, float, str, bool, np.number))]
        for key, column in self._header_columns:
            event[column] = header[key]
        self.queue.add(self.trace, tx, received, event, rows)
        self.num_delivered += 1
        if self.log is not None:
            now = self.env.now
            self.log.extend((now, name, "rx", packet.packet_id) for name in self.names)
        item = (packet, rows["snr_rx_est_db"])
        for store in self.inboxes:
            store.put(item)

    def flush(self) -> None:
        """Decode the packets still waiting in this link's queue."""
        self.queue.flush()

"""The decode queue: packets waiting for one batched codec call, in order, per trace."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from semsim.simulator.codecs import Transmission, decode_many
from semsim.simulator.trace import PacketRows, TraceWriter

__all__ = ["DecodeQueue"]


class DecodeQueue:
    """Packets waiting for a decode, of one replica's link or of several replicas run
    together (``codec.batch_replicas``); one codec call per flush.

    Decoding never feeds back into the dynamics (Alice adapts to the estimator's report,
    not to the codec's output), so a packet may wait for ``max_packets`` packets, of its
    own replica or of the next ones. Each packet's rows go to its own replica's trace, in
    order. ``codec`` decodes every packet in the queue: with several replicas it must be
    one whose decode is deterministic and independent of the replica (``shared_decode``).
    """

    def __init__(self, codec, roles: Sequence[str], max_packets: int = 1,
                 attackers: Sequence[Sequence[str] | None] | None = None) -> None:
        """``attackers``: per receiver, an Eve's own attacker list (None: the codec's)."""
        self.codec, self.roles, self.max_packets = codec, tuple(roles), int(max_packets)
        self.attackers = None if attackers is None else tuple(attackers)
        self._pending: list[tuple[TraceWriter, Transmission, np.ndarray, dict, PacketRows]] = []
        self.num_calls = 0

    def add(self, trace: TraceWriter, tx: Transmission, received: np.ndarray, event: dict,
            rows: PacketRows) -> None:
        """Queue one packet (received (R, F)); decodes when ``max_packets`` are waiting. The
        metrics join ``rows.own`` as ``m_<key>`` columns."""
        self._pending.append((trace, tx, received, event, rows))
        if len(self._pending) >= self.max_packets:
            self.flush()

    def flush(self) -> None:
        """Decode every waiting packet (one codec call) and append their trace rows."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        results = decode_many(self.codec, [p[1] for p in pending], [p[2] for p in pending],
                              [p[4]["snr_rx_est_db"] for p in pending], self.roles,
                              self.attackers)
        self.num_calls += 1
        for (trace, _, _, event, rows), metrics in zip(pending, results, strict=True):
            own = rows.own
            for key, value in metrics.items():
                own[f"m_{key}"] = value
            trace.add(event, rows)

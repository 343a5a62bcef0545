"""The decode queue: packets waiting for one batched codec call, in order, per trace."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from semsim.simulator.codecs import Transmission, decode_many
from semsim.simulator.codecs.base import PacketMetrics
from semsim.simulator.in_order import InOrder
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

    ``behind``: run the codec calls on one worker thread while the simulation goes on (the
    engine's physics and Alice's encoder on this thread, the decoder's networks on another
    core; torch releases the GIL). Calls run one at a time in order, rows reach the traces
    in order on this thread, and at most :data:`MAX_BEHIND` calls wait: the same rows as
    decoding in place, only sooner. The codec must not share state between its encode and
    its decode (its own generators for each).
    """

    def __init__(self, codec, roles: Sequence[str], max_packets: int = 1,
                 attackers: Sequence[Sequence[str] | None] | None = None,
                 behind: bool = False) -> None:
        """``attackers``: per receiver, an Eve's own attacker list (None: the codec's)."""
        self.codec, self.roles, self.max_packets = codec, tuple(roles), int(max_packets)
        self.attackers = None if attackers is None else tuple(attackers)
        self.behind = bool(behind)
        self._channel_snr = getattr(codec, "channel_snr", False)  # the codec reads snr_true_db
        self._pending: list[tuple[TraceWriter, Transmission, np.ndarray, dict, PacketRows]] = []
        self._calls = InOrder("semsim-decode")  # decodes running behind, in order
        self.num_calls = 0

    def add(self, trace: TraceWriter, tx: Transmission, received: np.ndarray, event: dict,
            rows: PacketRows) -> None:
        """Queue one packet (received (R, F)); decodes when ``max_packets`` are waiting. The
        metrics join ``rows.own`` as ``m_<key>`` columns."""
        self._pending.append((trace, tx, received, event, rows))
        if len(self._pending) >= self.max_packets:
            self._decode()

    def flush(self) -> None:
        """Decode every waiting packet and append their trace rows (waits for the decodes
        running behind)."""
        self._decode()
        try:
            self._collect(0)
        finally:
            self._calls.close()

    def _decode(self) -> None:
        """One codec call over the waiting packets: here, or queued on the worker."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        snr_true = [p[4]["snr_true_db"] for p in pending] if self._channel_snr else None
        args = (self.codec, [p[1] for p in pending], [p[2] for p in pending],
                [p[4]["snr_rx_est_db"] for p in pending], self.roles, self.attackers, snr_true)
        self.num_calls += 1
        if not self.behind:
            _append(pending, decode_many(*args))
            return
        self._calls.submit(decode_many, *args, tag=pending)
        self._collect(MAX_BEHIND)

    def _collect(self, max_waiting: int) -> None:
        """Append the rows of finished decodes, oldest first, waiting until at most
        ``max_waiting`` calls are left. A failed decode raises here, once the calls queued
        before it have their rows (those after it are waited for and dropped)."""
        for pending, results in self._calls.results(max_waiting, finished=True):
            _append(pending, results)


#: decode calls that may wait on the worker thread (bounds memory and how far it lags)
MAX_BEHIND = 2


def _append(pending: list, results: Sequence[dict[str, np.ndarray]]) -> None:
    """Each packet's metrics join its rows as ``m_<key>`` columns; the rows go to its trace.
    Metrics by column (:class:`PacketMetrics`) join as one block, row i for packet i."""
    if isinstance(results, PacketMetrics):
        if len(results) != len(pending):
            raise ValueError(f"the codec decoded {len(results)} packets of {len(pending)}")
        block = {f"m_{k}": v for k, v in results.columns.items()}
        for i, (trace, _, _, event, rows) in enumerate(pending):
            rows.decoded, rows.decoded_index = block, i
            trace.add(event, rows)
        return
    for (trace, _, _, event, rows), metrics in zip(pending, results, strict=True):
        own = rows.own
        for key, value in metrics.items():
            own[f"m_{key}"] = value
        trace.add(event, rows)

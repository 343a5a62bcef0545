"""The decode queue: batches in order, and decodes running behind on the worker thread give
the rows of decoding in place, in order; a failed decode raises after its predecessors'
rows are in."""

import threading

import numpy as np
import pytest

from semsim.simulator.codecs.base import Transmission
from semsim.simulator.decode_queue import DecodeQueue
from semsim.simulator.trace import PacketRows

ROLES = ("bob", "eve")


class Sink:
    """Records what the queue appends (the TraceWriter's ``add``)."""

    def __init__(self):
        self.rows = []

    def add(self, event, rows):
        self.rows.append((event["packet_id"], dict(rows)))


class CountingCodec:
    """Decodes to the packet's index and records the thread of each call; fails on the
    call ``fail_at`` (0-based)."""

    def __init__(self, fail_at=None):
        self.calls, self.fail_at, self.threads = 0, fail_at, []

    def decode_many(self, txs, received, snr_est_db, roles):
        self.threads.append(threading.current_thread().name)
        call, self.calls = self.calls, self.calls + 1
        if call == self.fail_at:
            raise ValueError(f"decode {call} failed")
        return [{"k": np.full(len(roles), t.header["k"], dtype=float),
                 "energy": np.einsum("rf,rf->r", y, y)}
                for t, y in zip(txs, received, strict=True)]


def _feed(queue, sink, num):
    rng = np.random.default_rng(0)
    for k in range(num):
        tx = Transmission(symbols=np.zeros(4), header={"k": k})
        queue.add(sink, tx, rng.standard_normal((2, 4)), {"packet_id": k},
                  PacketRows({"snr_rx_est_db": np.zeros(2)}))


@pytest.mark.parametrize("batch", [1, 3])
def test_behind_gives_the_rows_of_decoding_in_place_in_order(batch):
    sinks = []
    for behind in (False, True):
        codec, sink = CountingCodec(), Sink()
        queue = DecodeQueue(codec, ROLES, batch, behind=behind)
        _feed(queue, sink, 10)
        queue.flush()
        sinks.append(sink.rows)
        assert codec.calls == queue.num_calls == -(-10 // batch)
        assert all(name.startswith("semsim-decode") for name in codec.threads) == behind
    here, behind = sinks
    assert [k for k, _ in behind] == list(range(10))
    for (_, a), (_, b) in zip(here, behind, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_a_failed_decode_behind_raises_after_the_rows_before_it():
    codec, sink = CountingCodec(fail_at=2), Sink()
    queue = DecodeQueue(codec, ROLES, 2, behind=True)
    with pytest.raises(ValueError, match="decode 2 failed"):
        _feed(queue, sink, 12)
        queue.flush()
    assert [k for k, _ in sink.rows] == [0, 1, 2, 3]  # calls 0 and 1, none after the failure

"""Codec interface the engine calls: encode once at Alice, decode all receivers at once.

The engine knows no neural net: a codec is any object with ``name``, ``encode`` and
``decode`` as below. Channel symbols are real features; their power convention is the
project's one (:mod:`semsim.models.common.snr`): the SNR is per real dimension, noise
variance ``power_per_real / snr``, and each transmission states its ``power_per_real``
(1 for unit-power reals, 1/2 for unit-power complex symbols). The engine packs the reals
two per complex symbol, applies each receiver's channel and one-tap equalisation. Codecs
that run torch convert at their boundary.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from semsim.models.common.device import resolve_device
from semsim.models.common.snr import REAL_UNIT_POWER

__all__ = ["BatchedDecode", "Codec", "PacketMetrics", "PreparedSource", "RowLayout", "Transmission",
           "batched_source", "decode_many", "per_packet_prepared", "prepare_torch",
           "resolve_device", "to_numpy"]


@dataclass
class Transmission:
    """What Alice puts on the air for one packet.

    symbols: (F,) float64 real features.
    power_per_real: their mean power per real dimension, P_s (the channel adds noise of
    variance P_s / snr per real; see :mod:`semsim.models.common.snr`).
    header: scalar side information (e.g. t*, t'); numbers and strings are recorded in the
    trace as ``h_<key>`` columns.
    truth: ground truth for the metrics (source images, labels); never transmitted.
    """

    symbols: np.ndarray
    power_per_real: float = REAL_UNIT_POWER
    header: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Codec(Protocol):
    """Semantic/classical codec plugged into the engine.

    ``encode(sources, snr_est_db)``: sources is the image source's dict (``images``
    (1, C, H, W) in [0, 1], maybe ``labels``); snr_est_db (1,) is the SNR Bob last fed
    back (what Alice believes, never the truth).
    ``decode(tx, received, snr_est_db, roles)``: received (R, F) equalised reals for the R
    receivers of the event, snr_est_db (R,) each receiver's own estimate, roles (R,) of
    "bob"/"eve". Returns metric columns, each an array (R,) (same keys every call);
    the trace stores them as ``m_<key>``.

    ``decode_many(txs, received, snr_est_db, roles)`` with lists over packets decodes
    several packets in one call; it is the primary interface of the neural codecs (one
    batched model call per role over every receiver of every packet), whose ``decode`` is
    the one-packet case (:class:`BatchedDecode`). It returns one metrics dict per packet, or
    the same by column (:class:`PacketMetrics`, what :meth:`RowLayout.split` makes), which
    the engine hands to the traces without a dict per packet. Optional for a codec: without
    it the engine decodes packet by packet (see :func:`decode_many`).

    Optional: ``shared_decode = True`` declares that ``decode`` is deterministic and uses no
    per-replica state (randomness belongs to ``encode`` and the channel), so the engine may
    decode packets of several replicas in one call with one replica's codec
    (``codec.batch_replicas``); absent or False, every replica decodes with its own codec.

    Optional: ``channel_snr = True`` declares that ``decode_many`` takes each receiver's
    channel SNR as the keyword ``snr_true_db`` (per packet (R,) dB, the trace's
    ``snr_true_db``: the post-equalisation SNR of the reception), as a PHY abstraction
    needs (ns-3 hands its error models the SINR); such a codec must have ``decode_many``.

    Optional: ``decode_behind_safe = True`` declares that ``decode`` shares no mutable state
    with ``encode`` / ``prepare_many`` (no generator, buffer or cache used by both), so the
    engine may run decodes on a worker thread while Alice encodes (``codec.decode_behind``).

    Optional: ``prepare_many(sources)`` runs the part of ``encode`` that does not depend on
    the SNR estimate (e.g. the neural encoder) for B source packets (arrays (B, ...)) in one
    batched call and returns B per-packet sources dicts, each with a ``"prepared"`` entry,
    that ``encode`` then takes in place of raw sources (the engine uses it when
    ``codec.encode_batch_packets`` > 1); see :class:`PreparedSource`.
    """

    name: str

    def encode(self, sources: Mapping[str, np.ndarray], snr_est_db: np.ndarray) -> Transmission:
        ...

    def decode(self, tx: Transmission, received: np.ndarray, snr_est_db: np.ndarray,
               roles: Sequence[str]) -> dict[str, np.ndarray]:
        ...



def prepare_torch(device: str, num_threads: int) -> str:
    """Set torch's intra-op threads for codec calls (0 keeps torch's default) and return
    ``device`` resolved (:func:`models.common.device.resolve_device`).

    Per-event batches are tiny (one packet, a few receivers): more threads only add
    synchronisation, and on a loaded machine spinning threads slow each call by 100x or
    more (measured: SSIM of 3 MNIST images 0.8 ms with 1 thread, 155 ms with 2 while
    another process used both cores).
    """
    if num_threads > 0:
        import torch

        torch.set_num_threads(num_threads)
    return resolve_device(device)


class BatchedDecode:
    """Base of codecs whose primary interface is ``decode_many``: ``decode`` of one
    packet is ``decode_many`` of a list of one. Keeps the codec's ``options`` and the
    torch ``device`` it was built for."""

    def __init__(self, options: Any, device: str = "cpu") -> None:
        self.options, self.device = options, device

    def decode(self, tx: Transmission, received: np.ndarray, snr_est_db: np.ndarray,
               roles: Sequence[str], *, snr_true_db: np.ndarray | None = None
               ) -> dict[str, np.ndarray]:
        """One packet: received (R, F) -> metric arrays (R,); ``snr_true_db`` (R,): the
        channel SNRs, for codecs with ``channel_snr``."""
        if snr_true_db is None:
            return self.decode_many([tx], [received], [snr_est_db], roles)[0]
        return self.decode_many([tx], [received], [snr_est_db], roles,
                                snr_true_db=[snr_true_db])[0]


def to_numpy(t: Any) -> np.ndarray:
    """A torch tensor (any device) as a float64 numpy array: metric columns."""
    return t.detach().cpu().double().numpy()


def decode_many(codec: Codec, txs: Sequence[Transmission], received: Sequence[np.ndarray],
                snr_est_db: Sequence[np.ndarray], roles: Sequence[str],
                attackers: Sequence[Sequence[str] | None] | None = None,
                snr_true_db: Sequence[np.ndarray] | None = None
                ) -> Sequence[dict[str, np.ndarray]]:
    """Decode several packets: the codec's own ``decode_many`` when it has one (one batched
    model call over every receiver of every packet), else ``decode`` packet by packet.
    ``attackers``: per receiver, an Eve's own attacker list (None: the codec's default;
    the engine gives it only when some Eve narrows it, so codecs without attackers never
    see the argument); ``snr_true_db``: per packet, every receiver's channel SNR (R,), given
    to codecs with ``channel_snr`` only. Returns one metrics dict (arrays (R,)) per
    packet, in order (a list, or :class:`PacketMetrics`)."""
    many = getattr(codec, "decode_many", None)
    if many is not None:
        extra: dict[str, Any] = {} if attackers is None else {"attackers": attackers}
        if getattr(codec, "channel_snr", False):
            extra["snr_true_db"] = snr_true_db
        return many(txs, received, snr_est_db, roles, **extra)
    return [codec.decode(t, r, e, roles)
            for t, r, e in zip(txs, received, snr_est_db, strict=True)]


def receiver_attackers(attackers: Sequence[Sequence[str] | None] | None, num_receivers: int,
                       default: Sequence[str]) -> list[tuple[str, ...]]:
    """Each receiver's attacker list (R,): its own, else the codec's ``default``."""
    own = attackers if attackers is not None else [None] * num_receivers
    return [tuple(default if a is None else a) for a in own]


def per_packet_prepared(sources: Mapping[str, Any], prepared: Sequence[Any]
                        ) -> list[dict[str, Any]]:
    """What a codec's ``prepare_many`` returns: the B-packet ``sources`` (arrays (B, ...))
    split into B one-packet dicts, packet i carrying ``prepared[i]`` under ``"prepared"``."""
    return [{**{k: np.asarray(v)[i:i + 1] for k, v in sources.items()}, "prepared": p}
            for i, p in enumerate(prepared)]


class PreparedSource:
    """Alice's source when encodes are batched: draws ``block`` packets from ``source`` (one
    ``next(1)`` each, so the sequence is the source's own), runs ``codec.prepare_many`` on
    them in one call and hands the prepared packets out one by one.

    The random draws of ``encode`` (self-noise, host choice) keep their per-packet order;
    only the batched model call's float rounding can differ from per-packet encodes. At
    the end of a run up to ``block - 1`` prepared packets go unused.
    """

    def __init__(self, source: Any, codec: Codec, block: int) -> None:
        self.source, self.codec, self.block = source, codec, int(block)
        self._ready: deque[Mapping[str, Any]] = deque()

    def next(self, batch_size: int = 1) -> Mapping[str, Any]:
        if batch_size != 1:
            raise ValueError("PreparedSource hands out one packet at a time")
        if not self._ready:
            items = [self.source.next(1) for _ in range(self.block)]
            stacked = {k: np.concatenate([np.asarray(it[k]) for it in items])
                       for k in items[0]}
            self._ready.extend(self.codec.prepare_many(stacked))
        return self._ready.popleft()


def batched_source(source: Any, codec: Codec, encode_batch_packets: int) -> Any:
    """``source`` wrapped in a :class:`PreparedSource` when ``encode_batch_packets`` > 1 and
    the codec has ``prepare_many``; else ``source`` itself (per-packet encodes)."""
    if encode_batch_packets > 1 and callable(getattr(codec, "prepare_many", None)):
        return PreparedSource(source, codec, encode_batch_packets)
    return source


@dataclass(frozen=True)
class RowLayout:
    """Rows of a multi-packet decode batch: P packets x R receivers, packet-major.

    ``packet`` / ``receiver`` (P*R,) packet and receiver index of each row; ``bob`` /
    ``eve`` row indices by role (``eve``: every row that is not Bob's: Eves, coalitions)."""

    num_packets: int
    num_receivers: int
    packet: np.ndarray
    receiver: np.ndarray
    bob: np.ndarray
    eve: np.ndarray

    @classmethod
    def of(cls, num_packets: int, roles: Sequence[str]) -> RowLayout:
        is_bob = np.tile(np.array([role == "bob" for role in roles]), num_packets)
        return cls(num_packets, len(roles), np.repeat(np.arange(num_packets), len(roles)),
                   np.tile(np.arange(len(roles)), num_packets),
                   np.flatnonzero(is_bob), np.flatnonzero(~is_bob))

    def split(self, columns: Mapping[str, np.ndarray]) -> PacketMetrics:
        """Per-row metric arrays (P*R, ...) -> the packets' metrics, (P, R, ...) by column
        (as a sequence: one dict of (R, ...) rows per packet)."""
        p, r = self.num_packets, self.num_receivers
        return PacketMetrics({k: (v := np.asarray(a)).reshape(p, r, *v.shape[1:])
                              for k, a in columns.items()}, p)


class PacketMetrics(Sequence):
    """A decode call's metrics by column: ``columns`` {key: (P, R, ...)} for P packets x R
    receivers. As a sequence it is what ``decode_many`` returns, one dict of (R, ...) rows
    per packet (built on access); the decode queue hands the columns to the traces whole,
    without building the per-packet dicts."""

    __slots__ = ("columns", "num_packets")

    def __init__(self, columns: dict[str, np.ndarray], num_packets: int) -> None:
        self.columns, self.num_packets = columns, int(num_packets)

    def __len__(self) -> int:
        return self.num_packets

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.num_packets))]
        if not -self.num_packets <= i < self.num_packets:
            raise IndexError(f"packet {i} of {self.num_packets}")
        return {k: v[i] for k, v in self.columns.items()}

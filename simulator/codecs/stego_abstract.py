"""``stego-abstract``: INN steganography with its networks replaced by a calibrated table
(:mod:`semsim.models.abstract.stego_calibration`), the semantic PHY abstraction of ``stego``.

Alice draws, from her own seeded stream, one of the table's hosts of the packet's private
image (``h_host_index``: the host dataset row, as ``stego``) and sends one zero symbol at
``stego``'s power (1/2 per real). Each receiver's channel SNR comes from the engine
(``snr_true_db``); its row reads, for its packet's (private image,
host), one channel draw at one grid cell (linear interpolation in dB by a random choice of
neighbour) from its own seeded stream: Bob's image-quality metrics, or an Eve's naive and
MIA metrics jointly. The same private image and host thus shape every receiver's outcome
together. Same metric columns as ``stego``. Outside the SNR grid, an image outside the
table or a configuration without a table is an error. Validity: docs/abstraction.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from semsim.models.abstract.stego_calibration import (
    BOB_METRICS,
    MIA_METRICS,
)
from semsim.models.common.snr import COMPLEX_UNIT_POWER
from semsim.simulator.codecs.abstract_common import (
    CARRIER,
    ReceiverStreams,
    channel_snr_db,
    grid_cells,
    table_images,
)
from semsim.simulator.codecs.base import (
    BatchedDecode,
    PacketMetrics,
    RowLayout,
    Transmission,
    receiver_attackers,
)
from semsim.simulator.codecs.stego import ATTACKERS, source_dataset, trained_snr_db
from semsim.simulator.codecs.stego_hosts import TableHosts, load_stego_table, table_location
from semsim.simulator.errors import check, check_attackers

__all__ = ["ATTACKERS", "Options", "StegoAbstractCodec", "attackers", "build", "source_images",
           "source_dataset", "trained_snr_db"]


@dataclass(frozen=True)
class Options:
    """setting, checkpoint, host_split, l_hat: the calibrated stego configuration (table
    ``<checkpoint>-<host_split>-<l_hat>`` in ``table_dir``, default the shipped folder);
    attackers: as ``stego``; draw_seed: as ``diffsem-abstract``;
    checkpoint_dir: where stego's manifest (trained SNR range) is read."""

    setting: Literal["mnist-in-fashion", "fashion", "mnist", "cifar10"] = "mnist-in-fashion"
    checkpoint: str | None = None
    host_split: Literal["train", "test"] = "test"
    l_hat: Literal["zeros", "gaussian"] = "zeros"
    attackers: tuple[Literal[ATTACKERS], ...] = ATTACKERS  # type: ignore[valid-type]
    table_dir: str | None = None
    draw_seed: int = 0
    checkpoint_dir: str | None = None

    def __post_init__(self) -> None:
        check(self.draw_seed >= 0, "draw_seed", self.draw_seed, "must be >= 0")
        check_attackers(self.attackers)


def attackers(options: Options) -> tuple[str, ...]:
    """The attackers every Eve runs unless ``eves[i].attackers`` narrows them."""
    return tuple(options.attackers)


def source_images(options: Options) -> int | None:
    """The source may draw only the first N private test images, the table's."""
    return table_images(*table_location(options))


class StegoAbstractCodec:
    """Table-driven stego: a table host per packet, one table read per receiver row."""

    name = "stego-abstract"
    channel_snr = True  # decode_many reads snr_true_db

    def __init__(self, options: Options, seed_sequence: np.random.SeedSequence) -> None:
        self.options = options
        self.table, self._table_name = load_stego_table(options)
        self.arrays, self.grid = self.table.arrays, self.table.arrays["grid_db"]
        host_ss, rx_ss = seed_sequence.spawn(2)
        self._hosts = TableHosts(self.arrays["host_index"], self.arrays["labels"],
                                 np.random.default_rng(host_ss))
        self._streams = ReceiverStreams(rx_ss, options.draw_seed)

    def encode(self, sources: Mapping[str, Any], snr_est_db: np.ndarray) -> Transmission:
        index = self._hosts.source_index(sources)
        h, host = self._hosts.draw(index)
        return Transmission(symbols=CARRIER,
                            power_per_real=COMPLEX_UNIT_POWER,
                            header={"host_index": host, "source_index": index},
                            truth={"index": index, "host_draw": h})

    decode = BatchedDecode.decode  # one packet: decode_many of a list of one

    def decode_many(self, txs: Sequence[Transmission], received: Sequence[np.ndarray],
                    snr_est_db: Sequence[np.ndarray], roles: Sequence[str],
                    attackers: Sequence[Sequence[str] | None] | None = None, *,
                    snr_true_db: Sequence[np.ndarray] | None = None
                    ) -> PacketMetrics:
        """P packets x R receivers: one table read per row at its channel SNR
        (``snr_true_db``: per packet (R,), dB); same columns as stego."""
        rows = RowLayout.of(len(txs), roles)
        snr = channel_snr_db(snr_true_db, self.name)
        cell, draw = grid_cells(self.grid, snr, self._streams.uniforms(rows, 2),
                                self.table.num_draws, rows, self._table_name,
                                lambda i: f"SNR {snr[i]:.1f} dB")
        image = np.array([t.truth["index"] for t in txs])[rows.packet]
        host = np.array([t.truth["host_draw"] for t in txs])[rows.packet]
        n, bob, eve = len(rows.packet), rows.bob, rows.eve
        out = {k: np.full(n, np.nan) for k in (*BOB_METRICS, *MIA_METRICS)}
        for who, sel in (("bob", bob), ("naive", eve)):
            vals = self.arrays[who][cell[sel], image[sel], host[sel], draw[sel]]
            for j, k in enumerate(BOB_METRICS):
                out[k][sel] = vals[:, j]
        vals = self.arrays["mia"][cell[eve], image[eve], host[eve], draw[eve]]
        for j, k in enumerate(MIA_METRICS):
            out[k][eve] = vals[:, j]
        lists = receiver_attackers(attackers, len(roles), tuple(self.options.attackers))
        for name, columns in (("naive", BOB_METRICS), ("mia", MIA_METRICS)):
            skip = eve[[name not in lists[r] for r in rows.receiver[eve]]]
            for c in columns:
                out[c][skip] = np.nan
        return rows.split(out)


def build(options: Options, *, seed_sequence: np.random.SeedSequence | None = None,
          **_: object) -> StegoAbstractCodec:
    """Plugin entry point: loads the table (sha256-checked); no torch."""
    return StegoAbstractCodec(options, seed_sequence or np.random.SeedSequence(0))

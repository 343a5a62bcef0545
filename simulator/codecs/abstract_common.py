"""Pieces the abstraction codecs (``diffsem-abstract``, ``stego-abstract``) share: each
receiver's own outcome stream, the one zero symbol they transmit, and the grid look-up
that names the receiver when it falls outside the table.

An abstraction reads each receiver's channel SNR from the engine (``channel_snr``: its
``decode_many`` gets ``snr_true_db``, the post-equalisation SNR of the reception, as ns-3
hands its error models the SINR), so what goes on the air only has to exist: one complex
symbol of zeros, :data:`CARRIER`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from semsim.models.abstract.table import OutOfRangeError, cell_and_draw
from semsim.simulator.codecs.base import RowLayout
from semsim.simulator.errors import ScenarioError

__all__ = ["CARRIER", "ReceiverStreams", "channel_snr_db", "grid_cells", "table_images"]

#: what an abstraction codec transmits: one complex symbol (two reals) of zeros
CARRIER = np.zeros(2)
CARRIER.flags.writeable = False  # shared by every packet, never changed


def table_images(folder: str | Path, name: str) -> int | None:
    """How many source images (the split's first N) table ``name`` in ``folder`` covers,
    from its manifest (None when it cannot be read: loading the table then says why)."""
    import json

    try:
        return int(json.loads((Path(folder) / f"{name}.json").read_text())["images"]["first"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class ReceiverStreams:
    """One numpy stream per receiver index, keyed by the codec's seed sequence and
    ``draw_seed`` (adding an Eve never changes Bob's draws)."""

    def __init__(self, seed_sequence: np.random.SeedSequence, draw_seed: int) -> None:
        self._seed, self._draw = seed_sequence, int(draw_seed)
        self._rngs: dict[int, np.random.Generator] = {}

    def get(self, r: int) -> np.random.Generator:
        if r not in self._rngs:
            s = self._seed
            self._rngs[r] = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
                s.entropy, spawn_key=(*s.spawn_key, self._draw, r))))
        return self._rngs[r]

    def uniforms(self, rows: RowLayout, k: int) -> np.ndarray:
        """(P*R, k) uniforms, row by row from each receiver's own stream (packet order)."""
        u = np.empty((rows.num_packets * rows.num_receivers, k))
        for r in range(rows.num_receivers):
            u[r::rows.num_receivers] = self.get(r).random((rows.num_packets, k))
        return u


def channel_snr_db(snr_true_db: Sequence[np.ndarray] | None, name: str) -> np.ndarray:
    """The rows' channel SNRs (P*R,) from the engine's per-packet (R,) arrays; a caller that
    gives none is told the codec needs them."""
    if snr_true_db is None:
        raise TypeError(f"{name} reads each receiver's channel SNR: call decode_many with "
                        "snr_true_db (the engine does)")
    return np.concatenate(snr_true_db)


def grid_cells(grid_db: np.ndarray, x_db: np.ndarray, u: np.ndarray, num_draws: int,
               rows: RowLayout, table: str, describe: Callable[[int], str]
               ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cell_and_draw`, or a ScenarioError naming the first receiver outside the grid
    (``describe(i)``: what row i's value is, e.g. "effective SNR -45.1 dB (...)")."""
    try:
        return cell_and_draw(grid_db, x_db, u, num_draws)
    except OutOfRangeError as exc:
        i = int(exc.args[1][0])
        r = int(rows.receiver[i])
        raise ScenarioError("bob" if r == 0 else f"receiver {r}", f"{describe(i)} is "
                            f"outside table {table}'s grid [{grid_db[0]:g}, {grid_db[-1]:g}] "
                            "dB: the abstraction does not extrapolate (recalibrate with a "
                            "wider --grid-db)", round(float(x_db[i]), 2)) from None

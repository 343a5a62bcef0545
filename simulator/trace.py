"""Trace: one typed row per packet per receiver, written to Parquet in atomic parts.

Rows are buffered column-wise per event (scalars per packet, arrays (R,) per receiver) and
written every ``part_rows`` rows as ``traces/rNNN-pNNNNN.parquet``: each part is written to a
hidden temp name and renamed, so a crash never leaves a half-written part, by one
background thread per writer while the simulation goes on. Every column is
typed from the registry (:mod:`semsim.simulator.columns`, documented in ``docs/traces.md``);
codec metrics become ``m_<key>`` columns and scalar header fields ``h_<key>`` columns, typed
from the codec's registry entries (inferred only for a codec outside the registry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from semsim.models.common.provenance import atomic_write
from semsim.simulator import columns
from semsim.simulator.errors import ScenarioError, check_range
from semsim.simulator.in_order import InOrder

__all__ = ["EVENT_COLUMNS", "FINITE_COLUMNS", "FIXED_COLUMNS", "ROW_COLUMNS", "PacketRows",
           "TraceConfig", "TraceValueError", "TraceWriter", "read_traces"]

#: every fixed column in file order with its Arrow type (from the registry)
FIXED_COLUMNS = {c.name: c.arrow for c in columns.FIXED}
#: fixed columns with one value per packet / per packet and receiver (the engine fills them)
EVENT_COLUMNS = {n: FIXED_COLUMNS[n] for n in columns.EVENT}
ROW_COLUMNS = {n: FIXED_COLUMNS[n] for n in columns.ROW}
_ORDER = list(FIXED_COLUMNS)
#: fixed float columns that must be finite (checked when a part is written), with the roles
#: whose rows must hold a value (the registry's roles: a coalition has no position);
#: NaN is legal only in ``feedback_age_s`` (no report yet) and in the codecs' h_/m_ columns
FINITE_COLUMNS = {c.name: frozenset(c.roles) for c in columns.FIXED
                  if c.arrow == pa.float64() and c.name != "feedback_age_s"}


#: parts a writer may have queued for its background thread (bounds memory)
_MAX_PENDING = 2


class TraceValueError(ScenarioError):
    """A run computed a non-finite value for a column of :data:`FINITE_COLUMNS`: the
    scenario passed validation but its physics overflowed. ``path`` names the column."""


@dataclass(frozen=True)
class TraceConfig:
    """Trace output: rows per Parquet part; ``event_log`` keeps the SimPy event-order log
    (also written as events-rNNN.jsonl). ``part_rows`` <= 10**7 (the buffer is in memory)."""

    part_rows: int = 100_000
    event_log: bool = False

    def __post_init__(self) -> None:
        check_range(self.part_rows, "part_rows", 1, 10**7)


class PacketRows(Mapping):
    """One packet's per-receiver columns (R,) without copying: ``own`` arrays (R,) of this
    packet, row ``index`` of ``shared``, arrays (K, R) that K consecutive packets share (the
    receiver bank's chunk), and row ``decoded_index`` of ``decoded``, arrays (P, R) of the
    decode call that held this packet (its ``m_*`` metrics, by column); the three key sets
    are disjoint. A plain mapping of (R,) arrays is the case with neither block. The trace
    writer copies block rows in slabs of consecutive packets when it builds a part."""

    __slots__ = ("decoded", "decoded_index", "index", "own", "shared")

    def __init__(self, own: dict[str, np.ndarray],
                 shared: Mapping[str, np.ndarray] | None = None, index: int = 0) -> None:
        self.own, self.shared, self.index = own, shared or {}, index
        self.decoded: Mapping[str, np.ndarray] = {}
        self.decoded_index = 0

    def __getitem__(self, key: str) -> np.ndarray:
        if key in self.own:
            return self.own[key]
        if key in self.shared:
            return self.shared[key][self.index]
        return self.decoded[key][self.decoded_index]

    def __iter__(self):
        yield from self.own
        yield from self.shared
        yield from self.decoded

    def __len__(self) -> int:
        return len(self.own) + len(self.shared) + len(self.decoded)


class TraceWriter:
    """Buffers rows of one replica and writes Parquet parts under ``traces_dir``.

    ``receivers``/``roles``: names and roles (R,) in the order of every event's arrays;
    ``codec``: the codec's registry name (types its ``h_*`` / ``m_*`` columns). The first
    packet must fill every fixed column of the registry (a missing one is an error).
    """

    def __init__(self, traces_dir: str | Path, *, run_id: str, replica: int, seed: int,
                 receivers: Sequence[str], roles: Sequence[str], part_rows: int,
                 codec: str | None = None) -> None:
        self.dir = Path(traces_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prefix = f"r{replica:03d}"
        for stale in self.dir.glob(f"{self.prefix}-p*.parquet"):
            stale.unlink()  # a rerun of this replica replaces its parts
        self.const = {"run_id": run_id, "replica": replica, "seed": seed}
        self.codec = codec
        self.receivers = np.asarray(receivers, dtype=object)
        self.roles = np.asarray(roles, dtype=object)
        self.num_receivers = len(receivers)
        self.events_per_part = max(1, -(-part_rows // self.num_receivers))
        self.parts: list[Path] = []
        self.num_rows = 0
        self._events: dict[str, list] = {}
        self._rows: dict[str, list] = {}
        # per packet (block, row) of the bank's chunk and of the decode call, when it has one
        self._blocks: tuple[list[tuple[Mapping[str, np.ndarray], int]], ...] = ([], [])
        self._block_keys: tuple[Any, ...] = ((), ())
        self._last_blocks: tuple[Mapping[str, np.ndarray], ...] = ({}, {})
        self._schema: pa.Schema | None = None
        self._n = 0
        self._writes = InOrder("trace-writer")  # parts being written, in order

    def add(self, event: Mapping[str, Any], rows: Mapping[str, np.ndarray]) -> None:
        """Append one packet: ``event`` scalars and ``rows`` arrays of shape (R,) (a
        mapping, or :class:`PacketRows` whose block rows are copied later)."""
        if isinstance(rows, PacketRows):
            own = rows.own
            blocks = ((rows.shared, rows.index), (rows.decoded, rows.decoded_index))
        else:
            own, blocks = rows, (({}, 0), ({}, 0))
        if not self._events:
            present = {*event, *own, *blocks[0][0], *blocks[1][0], *self.const, "node", "role"}
            missing = [c for c in _ORDER if c not in present]
            if missing:
                raise ValueError(f"trace: the engine left fixed columns unfilled: {missing}")
            self._events = {k: [] for k in event}
            self._rows = {k: [] for k in own}
            self._block_keys = tuple(b.keys() for b, _ in blocks)
        elif (event.keys() != self._events.keys() or own.keys() != self._rows.keys()
              or any(b is not last and b.keys() != keys for (b, _), last, keys
                     in zip(blocks, self._last_blocks, self._block_keys, strict=True))):
            own, blocks = self._regroup(event, own, blocks)
        self._last_blocks = tuple(b for b, _ in blocks)
        for k, v in event.items():
            self._events[k].append(v)
        for k, v in own.items():
            self._rows[k].append(v)
        for entries, block in zip(self._blocks, blocks, strict=True):
            if block[0]:
                entries.append(block)
        self._n += 1
        if self._n >= self.events_per_part:
            self.flush()

    def _regroup(self, event: Mapping[str, Any], own: Mapping[str, np.ndarray],
                 blocks: tuple[tuple[Mapping[str, np.ndarray], int], ...]):
        """A packet whose columns are split between own and the blocks differently from the
        first packet's (same columns): regrouped like the first; other columns: an error."""
        merged = {**own, **{k: v[i] for b, i in blocks for k, v in b.items()}}
        if (event.keys() != self._events.keys()
                or merged.keys() != set(self._rows).union(*self._block_keys)):
            raise ValueError("trace columns changed between packets (a codec must return the "
                             f"same header and metric keys every call): {sorted(event)} "
                             f"{sorted(merged)}")
        return ({k: merged[k] for k in self._rows},
                tuple(({k: merged[k][None] for k in keys}, 0) for keys in self._block_keys))

    def _table(self) -> pa.Table:
        n, r = self._n, self.num_receivers
        cols: dict[str, pa.Array] = {}
        for k, v in self.const.items():
            cols[k] = pa.repeat(pa.scalar(v, type=FIXED_COLUMNS[k]), n * r)
        which = pa.array(np.tile(np.arange(r), n))
        cols["node"] = pa.array(list(self.receivers), type=pa.string()).take(which)
        cols["role"] = pa.array(list(self.roles), type=pa.string()).take(which)
        per_event = pa.array(np.repeat(np.arange(n), r))
        for k, vals in self._events.items():
            arr = np.asarray(vals)
            self._check_finite(k, arr, 1)
            cols[k] = pa.array(arr, type=columns.arrow_type(k, self.codec, arr)).take(per_event)
        blocks = (_slab_columns(e, k) for e, k in zip(self._blocks, self._block_keys,
                                                           strict=True))
        for k, arr in [*((k, np.concatenate(v)) for k, v in self._rows.items()),
                       *(item for b in blocks for item in b.items())]:
            if arr.shape[0] != n * r:
                raise ValueError(f"column {k!r}: expected {r} values per packet")
            self._check_finite(k, arr, r)
            cols[k] = pa.array(arr, type=columns.arrow_type(k, self.codec, arr))
        names = [c for c in _ORDER if c in cols] + sorted(c for c in cols if c not in _ORDER)
        table = pa.table({c: cols[c] for c in names})
        if self._schema is None:
            self._schema = table.schema
        elif table.schema != self._schema:
            raise ValueError("trace columns changed between parts (a codec must return the "
                             f"same keys every call): {table.schema} vs {self._schema}")
        return table

    def _check_finite(self, name: str, arr: np.ndarray, per_packet: int) -> None:
        """Raise TraceValueError naming column ``name``, the packet and the receiver when a
        :data:`FINITE_COLUMNS` column holds inf or NaN."""
        if name not in FINITE_COLUMNS:
            return
        finite = np.isfinite(np.asarray(arr, dtype=float))
        if per_packet > 1:  # rows of roles the column does not apply to may be NaN
            applies = np.isin(self.roles, list(FINITE_COLUMNS[name]))
            finite |= ~np.tile(applies, len(arr) // per_packet)
        bad = np.flatnonzero(~finite)
        if bad.size:
            i = int(bad[0])
            packet = self._events.get("packet_id", [None] * self._n)[i // per_packet]
            who = f", receiver {self.receivers[i % per_packet]}" if per_packet > 1 else ""
            raise TraceValueError(name, f"trace column must be finite; {bad.size} value(s) "
                                  f"are not, first at packet {packet}{who} (replica "
                                  f"{self.const['replica']}): an input out of the physics' "
                                  "range passed validation", float(arr[i]))

    def flush(self) -> None:
        """Hand buffered rows to the writer thread as the next part (no-op when empty).

        The table is built and checked here (a bad value raises now, naming its packet);
        compressing and writing it happens on one background thread, parts in order, at
        most ``_MAX_PENDING`` parts behind, so the simulation runs on meanwhile (pyarrow
        releases the GIL). A failed write raises from the next ``flush`` or ``close``."""
        if self._n == 0:
            return
        table = self._table()
        path = self.dir / f"{self.prefix}-p{len(self.parts):05d}.parquet"
        self._wait(_MAX_PENDING - 1)
        self._writes.submit(_write_part, table, path)
        self.parts.append(path)
        self.num_rows += table.num_rows
        self._events = {k: [] for k in self._events}
        self._rows = {k: [] for k in self._rows}
        self._blocks = ([], [])
        self._n = 0

    def close(self) -> list[Path]:
        """Flush, wait until every part is on disk and return the part paths."""
        try:
            self.flush()
            self._wait(0)
        finally:
            self._writes.close()
        return list(self.parts)

    def _wait(self, num_pending: int) -> None:
        """Wait until at most ``num_pending`` parts are being written. A failed write
        raises here, once every other queued part is finished (none is left half done)."""
        for _ in self._writes.results(num_pending):
            pass


#: columns whose Parquet statistics (min/max per row group) are kept: the ones a reader
#: filters on (which run, replica, packet, time, receiver); statistics of the physics and
#: metric columns cost a fifth of a part's write time and serve no query
STATISTICS_COLUMNS = ("run_id", "replica", "seed", "packet_id", "time_s", "node", "role",
                      "codec")


def _slab_columns(entries: list[tuple[Mapping[str, np.ndarray], int]], keys
                  ) -> dict[str, np.ndarray]:
    """Buffered packets' block columns (n * R,) from their (block, row) ``entries``, copied
    in slabs of consecutive rows of one block."""
    slabs: list[list] = []
    for block, j in entries:
        if slabs and slabs[-1][0] is block and slabs[-1][2] == j:
            slabs[-1][2] = j + 1
        else:
            slabs.append([block, j, j + 1])
    return {k: np.concatenate([s[k][a:b].reshape(-1) for s, a, b in slabs])
            for k in keys} if slabs else {}


def _write_part(table: pa.Table, path: Path) -> None:
    """Write one part atomically (temp name, fsync, rename): LZ4 (as small as zstd on
    trace columns, within 3 %, and cheaper to write), dictionaries for strings only,
    statistics for :data:`STATISTICS_COLUMNS`."""
    atomic_write(path, lambda tmp: pq.write_table(
        table, tmp, compression="lz4", use_dictionary=_dictionary_columns(table),
        write_statistics=[c for c in STATISTICS_COLUMNS if c in table.column_names]))


def _dictionary_columns(table: pa.Table) -> list[str]:
    """Columns worth dictionary-encoding: strings (names, roles, ids repeat every row).
    Float columns of physics almost never repeat; trying a dictionary on them only costs
    time (a quarter of a part's write) before Parquet falls back to plain encoding."""
    return [f.name for f in table.schema if pa.types.is_string(f.type)]


def read_traces(run_dir: str | Path):
    """Read every trace part of a run folder into one pandas DataFrame, sorted by replica,
    packet and receiver order (as written)."""
    import pandas as pd

    parts = sorted(Path(run_dir, "traces").glob("r*-p*.parquet"))
    if not parts:
        raise FileNotFoundError(f"no trace parts under {Path(run_dir, 'traces')}")
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)

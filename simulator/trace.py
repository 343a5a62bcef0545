"""Trace: one typed row per packet per receiver, written to Parquet in atomic parts.

Rows are buffered column-wise per event (scalars per packet, arrays (R,) per receiver) and
written every ``part_rows`` rows as ``traces/rNNN-pNNNNN.parquet``: each part is written to a
hidden temp name and renamed, so a crash never leaves a half-written part. Every column is
typed from the registry (:mod:`semsim.simulator.columns`, documented in ``docs/traces.md``);
codec metrics become ``m_<key>`` columns and scalar header fields ``h_<key>`` columns, typed
from the codec's registry entries (inferred only for a codec outside the registry).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from semsim.models.common.provenance import atomic_write_bytes
from semsim.simulator import columns
from semsim.simulator.errors import ScenarioError, check_range

__all__ = ["EVENT_COLUMNS", "FINITE_COLUMNS", "FIXED_COLUMNS", "ROW_COLUMNS", "TraceConfig",
           "TraceValueError", "TraceWriter", "read_traces"]

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
        self._schema: pa.Schema | None = None
        self._n = 0

    def add(self, event: Mapping[str, Any], rows: Mapping[str, np.ndarray]) -> None:
        """Append one packet: ``event`` scalars and ``rows`` arrays of shape (R,)."""
        if not self._events:
            missing = [c for c in _ORDER if c not in event and c not in rows
                       and c not in self.const and c not in ("node", "role")]
            if missing:
                raise ValueError(f"trace: the engine left fixed columns unfilled: {missing}")
            self._events = {k: [] for k in event}
            self._rows = {k: [] for k in rows}
        elif event.keys() != self._events.keys() or rows.keys() != self._rows.keys():
            raise ValueError("trace columns changed between packets (a codec must return the "
                             f"same header and metric keys every call): {sorted(event)} "
                             f"{sorted(rows)}")
        for k, v in event.items():
            self._events[k].append(v)
        for k, v in rows.items():
            self._rows[k].append(v)
        self._n += 1
        if self._n >= self.events_per_part:
            self.flush()

    def _table(self) -> pa.Table:
        n, r = self._n, self.num_receivers
        cols: dict[str, pa.Array] = {}
        zeros = pa.array(np.zeros(n * r, dtype=np.int64))
        for k, v in self.const.items():
            cols[k] = pa.array([v], type=FIXED_COLUMNS[k]).take(zeros)
        which = pa.array(np.tile(np.arange(r), n))
        cols["node"] = pa.array(list(self.receivers), type=pa.string()).take(which)
        cols["role"] = pa.array(list(self.roles), type=pa.string()).take(which)
        per_event = pa.array(np.repeat(np.arange(n), r))
        for k, vals in self._events.items():
            arr = np.asarray(vals)
            self._check_finite(k, arr, 1)
            cols[k] = pa.array(arr, type=columns.arrow_type(k, self.codec, arr)).take(per_event)
        for k, vals in self._rows.items():
            arr = np.concatenate(vals)
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
        """Write buffered rows as the next part (no-op when empty)."""
        if self._n == 0:
            return
        table = self._table()
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        path = self.dir / f"{self.prefix}-p{len(self.parts):05d}.parquet"
        atomic_write_bytes(path, buf.getvalue())
        self.parts.append(path)
        self.num_rows += table.num_rows
        self._events = {k: [] for k in self._events}
        self._rows = {k: [] for k in self._rows}
        self._n = 0

    def close(self) -> list[Path]:
        """Flush and return the written part paths."""
        self.flush()
        return list(self.parts)


def read_traces(run_dir: str | Path):
    """Read every trace part of a run folder into one pandas DataFrame, sorted by replica,
    packet and receiver order (as written)."""
    import pandas as pd

    parts = sorted(Path(run_dir, "traces").glob("r*-p*.parquet"))
    if not parts:
        raise FileNotFoundError(f"no trace parts under {Path(run_dir, 'traces')}")
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)

"""Trace: one typed row per packet per receiver, written to Parquet in atomic parts.

Rows are buffered column-wise per event (scalars per packet, arrays (R,) per receiver) and
written every ``part_rows`` rows as ``traces/rNNN-pNNNNN.parquet``: each part is written to a
hidden temp name and renamed, so a crash never leaves a half-written part. The schema
(column, Arrow type, unit) is in ``docs/traces.md``; :data:`FIXED_COLUMNS` is its code form.
Codec metrics become ``m_<key>`` columns and scalar header fields ``h_<key>`` columns.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from semsim.models.common.provenance import atomic_write_bytes

__all__ = [
    "EVENT_COLUMNS",
    "FIXED_COLUMNS",
    "ROW_COLUMNS",
    "TraceWriter",
    "read_traces",
]

# column -> Arrow type. Per-run constants and per-receiver constants:
_CONST_COLUMNS = {"run_id": pa.string(), "replica": pa.int32(), "seed": pa.int64()}
_RECEIVER_COLUMNS = {"node": pa.string(), "role": pa.string()}
#: one value per packet (repeated over the packet's receivers)
EVENT_COLUMNS = {
    "packet_id": pa.int64(),
    "time_s": pa.float64(),
    "codec": pa.string(),
    "tx_x_m": pa.float64(),
    "tx_y_m": pa.float64(),
    "snr_est_db": pa.float64(),
    "feedback_packet_id": pa.int64(),
    "feedback_age_s": pa.float64(),
}
#: one value per receiver and packet
ROW_COLUMNS = {
    "rx_x_m": pa.float64(),
    "rx_y_m": pa.float64(),
    "distance_m": pa.float64(),
    "relative_speed_mps": pa.float64(),
    "doppler_hz": pa.float64(),
    "path_loss_db": pa.float64(),
    "shadowing_db": pa.float64(),
    "mean_snr_db": pa.float64(),
    "fading_gain": pa.float64(),
    "snr_true_db": pa.float64(),
    "snr_rx_est_db": pa.float64(),
    "snr_mismatch_db": pa.float64(),
    "capacity_bps_hz": pa.float64(),
    "secrecy_capacity_bps_hz": pa.float64(),
    "secrecy_outage": pa.bool_(),
}
_ORDER = ["run_id", "replica", "seed", "packet_id", "time_s", "node", "role", "codec",
          "tx_x_m", "tx_y_m", "rx_x_m", "rx_y_m", "distance_m", "relative_speed_mps",
          "doppler_hz", "path_loss_db", "shadowing_db", "mean_snr_db", "fading_gain",
          "snr_true_db", "snr_rx_est_db", "snr_est_db", "snr_mismatch_db",
          "feedback_packet_id", "feedback_age_s", "capacity_bps_hz",
          "secrecy_capacity_bps_hz", "secrecy_outage"]
#: every fixed column in file order with its Arrow type
FIXED_COLUMNS = {name: {**_CONST_COLUMNS, **_RECEIVER_COLUMNS, **EVENT_COLUMNS,
                        **ROW_COLUMNS}[name] for name in _ORDER}


def _arrow_type(values: np.ndarray) -> pa.DataType:
    if values.dtype == bool:
        return pa.bool_()
    if np.issubdtype(values.dtype, np.integer):
        return pa.int64()
    if np.issubdtype(values.dtype, np.number):
        return pa.float64()
    return pa.string()


class TraceWriter:
    """Buffers rows of one replica and writes Parquet parts under ``traces_dir``.

    ``receivers``/``roles``: names and roles (R,) in the order of every event's arrays.
    """

    def __init__(self, traces_dir: str | Path, *, run_id: str, replica: int, seed: int,
                 receivers: Sequence[str], roles: Sequence[str], part_rows: int) -> None:
        self.dir = Path(traces_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prefix = f"r{replica:03d}"
        for stale in self.dir.glob(f"{self.prefix}-p*.parquet"):
            stale.unlink()  # a rerun of this replica replaces its parts
        self.const = {"run_id": run_id, "replica": replica, "seed": seed}
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
            cols[k] = pa.array(arr, type=FIXED_COLUMNS.get(k) or _arrow_type(arr)).take(per_event)
        for k, vals in self._rows.items():
            arr = np.concatenate(vals)
            if arr.shape[0] != n * r:
                raise ValueError(f"column {k!r}: expected {r} values per packet")
            cols[k] = pa.array(arr, type=FIXED_COLUMNS.get(k) or _arrow_type(arr))
        names = [c for c in _ORDER if c in cols] + sorted(c for c in cols if c not in _ORDER)
        table = pa.table({c: cols[c] for c in names})
        if self._schema is None:
            self._schema = table.schema
        elif table.schema != self._schema:
            raise ValueError("trace columns changed between parts (a codec must return the "
                             f"same keys every call): {table.schema} vs {self._schema}")
        return table

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

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from simhelpers import documented_types

from semsim.models.common.provenance import atomic_write_bytes
from semsim.simulator.engine import run_scenario
from semsim.simulator.errors import ScenarioError
from semsim.simulator.scenario import parse_scenario
from semsim.simulator.trace import (
    FINITE_COLUMNS,
    FIXED_COLUMNS,
    TraceValueError,
    TraceWriter,
    read_traces,
)

ARROW = {"string": pa.string(), "int32": pa.int32(), "int64": pa.int64(),
         "float64": pa.float64(), "bool": pa.bool_()}


def test_docs_list_every_fixed_column():
    doc = documented_types()
    assert {k: doc[k] for k in FIXED_COLUMNS} == {
        k: next(n for n, t in ARROW.items() if t == v) for k, v in FIXED_COLUMNS.items()}


def test_parquet_round_trip_with_documented_dtypes(make_scenario, tmp_path):
    sc = make_scenario(run={"num_packets": 95}, trace={"part_rows": 30})
    res = run_scenario(sc, tmp_path / "r1")
    traces = tmp_path / "r1" / "traces"
    assert len(res.parts) == 10 and res.num_rows == 95 * 3
    assert sorted(p.name for p in traces.iterdir()) == [f"r000-p{i:05d}.parquet"
                                                         for i in range(10)]
    doc = documented_types()
    schema = pq.read_schema(res.parts[0])
    assert set(schema.names) == set(doc)  # every column documented, nothing undocumented
    for name in schema.names:
        assert schema.field(name).type == ARROW[doc[name]], name
    df = read_traces(tmp_path / "r1")
    same = pd.read_parquet(traces)  # plain pandas on the folder reads the same rows
    assert len(same) == len(df) == 95 * 3
    for name in df.columns:
        kind = doc[name]
        if kind == "string":
            assert pd.api.types.is_string_dtype(df[name]), name
        else:
            assert df[name].dtype == kind, (name, df[name].dtype)
    assert list(df.packet_id[::3]) == list(range(95))
    assert list(df.node[:3]) == ["bob", "eve0", "eve1"]


def test_run_folder_metadata(make_scenario, tmp_path):
    sc = make_scenario(run={"num_packets": 10})
    run_scenario(sc, tmp_path / "r", seed=99)
    back = parse_scenario(yaml.safe_load((tmp_path / "r" / "config.yaml").read_text()))
    assert back.run.seed == 99 and back.eves == sc.eves and back.bob == sc.bob
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    assert meta["seed"] == 99 and meta["run_id"] == "r"
    assert meta["versions"]["numpy"] and meta["versions"]["pyarrow"]
    assert set(meta["git"]) == {"commit", "dirty", "diff_sha256"}
    rep = json.loads((tmp_path / "r" / "replicas" / "r000.json").read_text())
    assert rep["num_packets"] == 10 and rep["num_rows"] == 30


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "part.parquet"
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # fails mid-write
    assert list(tmp_path.iterdir()) == []
    atomic_write_bytes(target, b"ok")
    assert target.read_bytes() == b"ok" and len(list(tmp_path.iterdir())) == 1


def test_rerun_replaces_parts_of_that_replica(make_scenario, tmp_path):
    """The same run again (part size is speed-only) replaces the replica's parts."""
    first = run_scenario(make_scenario(run={"num_packets": 40}, trace={"part_rows": 30}),
                         tmp_path)
    again = run_scenario(make_scenario(run={"num_packets": 40}), tmp_path)
    assert len(first.parts) == 4 and len(again.parts) == 1
    assert sorted(p.name for p in (tmp_path / "traces").iterdir()) == ["r000-p00000.parquet"]
    assert len(read_traces(tmp_path)) == 120


def test_a_folder_of_another_run_is_refused(make_scenario, tmp_path):
    run_scenario(make_scenario(run={"num_packets": 40}), tmp_path)
    with pytest.raises(ScenarioError, match=r"run.num_packets: 40 -> 5"):
        run_scenario(make_scenario(run={"num_packets": 5}), tmp_path)
    assert len(read_traces(tmp_path)) == 120  # nothing of the refused run was written


def _run_with(make_scenario, tmp_path, monkeypatch, column, value, packet=3):
    """A 6-packet run whose trace gets ``value`` in ``column`` at ``packet`` (Bob's row)."""
    original = TraceWriter.add

    def add(self, event, rows):
        if event["packet_id"] == packet:
            if column in rows:
                rows = {**rows, column: np.where(np.arange(len(rows[column])) == 0, value,
                                                 rows[column])}
            else:
                event = {**event, column: value}
        original(self, event, rows)

    monkeypatch.setattr(TraceWriter, "add", add)
    return run_scenario(make_scenario(run={"num_packets": 6}), tmp_path / column)


@pytest.mark.parametrize("column,value", [("snr_true_db", np.inf), ("mean_snr_db", np.nan),
                                          ("rx_x_m", -np.inf), ("snr_est_db", np.inf)])
def test_non_finite_physics_is_refused_at_write_time(make_scenario, tmp_path, monkeypatch,
                                                     column, value):
    assert column in FINITE_COLUMNS
    with pytest.raises(TraceValueError) as err:
        _run_with(make_scenario, tmp_path, monkeypatch, column, value)
    assert err.value.path == column and "packet 3" in err.value.message
    assert not list((tmp_path / column / "traces").glob("*.parquet"))  # nothing written


def test_nan_stays_legal_where_documented(make_scenario, tmp_path, monkeypatch):
    assert "feedback_age_s" not in FINITE_COLUMNS
    assert not any(c.startswith(("m_", "h_")) for c in FINITE_COLUMNS)
    res = _run_with(make_scenario, tmp_path, monkeypatch, "m_mse", np.nan)
    df = read_traces(tmp_path / "m_mse")
    assert res.num_rows == 18 and df.feedback_age_s.isna().any() and df.m_mse.isna().sum() == 1


def _writer(tmp_path, **kw):
    return TraceWriter(tmp_path, run_id="x", replica=0, seed=1, receivers=["bob", "eve"],
                       roles=["bob", "eve"], part_rows=kw.get("part_rows", 6), codec=None)


def _packet(k, physics):
    event = {c: 0.0 for c in FIXED_COLUMNS if c in ("time_s", "tx_x_m", "tx_y_m",
                                                     "snr_est_db", "feedback_age_s")}
    event.update(packet_id=k, codec="reference", feedback_packet_id=k - 1,
                 feedback_sender="bob", feedback_forged=False)
    return event, {c: v for c, v in physics.items()}


def test_shared_chunk_rows_write_the_same_table_as_per_packet_rows(tmp_path):
    from semsim.simulator.trace import ROW_COLUMNS, PacketRows

    rng = np.random.default_rng(0)
    chunk = {c: rng.normal(size=(9, 2)) for c in ROW_COLUMNS if c != "snr_mismatch_db"}
    chunk["secrecy_outage"] = chunk["secrecy_outage"] > 0
    chunk2 = {c: v[::-1].copy() for c, v in chunk.items()}  # a second chunk
    plain, shared = _writer(tmp_path / "plain"), _writer(tmp_path / "shared")
    for k in range(13):
        ch, j = (chunk, k) if k < 9 else (chunk2, k - 9)
        own = {"snr_mismatch_db": np.full(2, float(k)), "m_x": np.arange(2.0) + k}
        event, _ = _packet(k, {})
        plain.add(event, {**own, **{c: v[j] for c, v in ch.items()}})
        shared.add(event, PacketRows(dict(own), ch, j))
    a, b = plain.close(), shared.close()
    assert [p.name for p in a] == [p.name for p in b] and len(a) == 5  # 3 packets per part
    for pa_, pb in zip(a, b, strict=True):
        assert pq.read_table(pa_).equals(pq.read_table(pb))


def test_decoded_metric_blocks_write_the_same_table_as_per_packet_rows(tmp_path):
    """Metrics by column (a decode call's (P, R) block, row i per packet, as the decode
    queue hands PacketMetrics on) give the same parts as per-packet m_ arrays, also across
    blocks and parts, and a packet with its metrics in ``own`` is regrouped."""
    from semsim.simulator.trace import ROW_COLUMNS, PacketRows

    rng = np.random.default_rng(1)
    chunk = {c: rng.normal(size=(13, 2)) for c in ROW_COLUMNS if c != "snr_mismatch_db"}
    chunk["secrecy_outage"] = chunk["secrecy_outage"] > 0
    blocks = [{"m_x": rng.normal(size=(6, 2)), "m_y": rng.normal(size=(6, 2))}
              for _ in range(3)]
    plain, blocked = _writer(tmp_path / "plain"), _writer(tmp_path / "blocked")
    for k in range(13):
        block, i = blocks[k // 5], (k % 5) ^ 1  # rows 1 0 3 2 5: slabs must follow them
        own = {"snr_mismatch_db": np.full(2, float(k))}
        event, _ = _packet(k, {})
        metrics = {c: v[i] for c, v in block.items()}
        plain.add(event, {**own, **metrics, **{c: v[k] for c, v in chunk.items()}})
        rows = PacketRows(dict(own), chunk, k)
        if k == 7:  # this packet's metrics came per packet: regrouped
            rows.own.update(metrics)
        else:
            rows.decoded, rows.decoded_index = block, i
        blocked.add(event, rows)
    a, b = plain.close(), blocked.close()
    assert len(a) == len(b) == 5
    for pa_, pb in zip(a, b, strict=True):
        assert pq.read_table(pa_).equals(pq.read_table(pb))
    other = _writer(tmp_path / "other")
    event, _ = _packet(0, {})
    first = PacketRows({"snr_mismatch_db": np.zeros(2)}, chunk, 0)
    first.decoded = blocks[0]
    other.add(event, first)
    changed = PacketRows({"snr_mismatch_db": np.zeros(2)}, chunk, 1)
    changed.decoded = {"m_x": blocks[0]["m_x"]}  # m_y missing
    with pytest.raises(ValueError, match="trace columns changed"):
        other.add(_packet(1, {})[0], changed)


def test_a_failed_background_write_raises_and_no_part_is_half_written(tmp_path):
    from semsim.simulator.trace import ROW_COLUMNS

    writer = _writer(tmp_path, part_rows=2)  # one packet per part
    (tmp_path / "r000-p00001.parquet").mkdir()  # the second part cannot be renamed there
    physics = {c: np.zeros(2) for c in ROW_COLUMNS}
    with pytest.raises(OSError):
        for k in range(5):
            writer.add(*_packet(k, physics))
        writer.close()
    assert (tmp_path / "r000-p00000.parquet").is_file()
    assert not list(tmp_path.glob(".*.tmp"))  # the temp file of the failed part is gone

"""The trace-column registry: the docs are generated from it, the writer types from it, and
every column a shipped codec writes is in it with the type it is written with."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from semsim.simulator import columns
from semsim.simulator.trace import TraceWriter

ROOT = Path(__file__).resolve().parents[2]


def test_docs_tables_are_generated_from_the_registry():
    assert columns.update_doc(ROOT / "docs" / "traces.md", write=False), (
        "docs/traces.md differs from the registry: run "
        "`.venv/bin/python -m semsim.simulator.columns docs/traces.md`")


def test_registry_names_are_unique_and_well_formed():
    names = [c.name for c in columns.FIXED]
    assert len(names) == len(set(names))
    for codec, cols in columns.CODEC_COLUMNS.items():
        own = [c.name for c in cols]
        assert len(own) == len(set(own)) and not set(own) & set(names), codec
        for c in cols:
            assert c.name[:2] == {"header": "h_", "metric": "m_"}[c.scope], c.name
            assert set(c.roles) <= {"bob", "eve", "coalition"} and c.roles and c.meaning
    assert set(columns.CODEC_COLUMNS) == set(columns.CODEC_TITLES)


@pytest.mark.parametrize("codec", ["reference", "diffsem", "stego"])
def test_every_column_of_a_shipped_codec_is_registered(codec):
    """The golden trace of each codec holds exactly the fixed columns (in order) plus that
    codec's registered columns, each with its registered Arrow type (the golden files were
    written through pandas, which stores strings as large_string)."""
    schema = pq.read_schema(ROOT / "tests" / "golden" / f"{codec}.parquet")
    fixed = [c.name for c in columns.FIXED]
    assert schema.names[:len(fixed)] == fixed
    registered = {c.name: c.arrow for c in columns.CODEC_COLUMNS[codec]}
    assert set(schema.names[len(fixed):]) == set(registered)
    for c in (*columns.FIXED, *columns.CODEC_COLUMNS[codec]):
        got = schema.field(c.name).type
        assert (pa.string() if got == pa.large_string() else got) == c.arrow, c.name


def test_writer_types_codec_columns_from_the_registry(tmp_path):
    """An integer-valued float metric stays float64 (the registry's type, not inferred)."""
    w = TraceWriter(tmp_path, run_id="x", replica=0, seed=1, receivers=["bob"], roles=["bob"],
                    part_rows=10, codec="diffsem")
    sample = {"string": "x", "bool": False}
    event = {c.name: sample.get(c.type_name, 0) for c in columns.FIXED if c.scope == "event"}
    event |= {"codec": "diffsem", "h_tstar": 3}
    rows = {c: np.zeros(1) for c in columns.ROW} | {"m_correct": np.array([1])}
    w.add(event, rows)
    schema = pq.read_schema(w.close()[0])
    assert schema.field("m_correct").type == columns.arrow_type("m_correct", "diffsem")
    assert str(schema.field("m_correct").type) == "double"


def test_writer_refuses_a_missing_fixed_column(tmp_path):
    w = TraceWriter(tmp_path, run_id="x", replica=0, seed=1, receivers=["bob"], roles=["bob"],
                    part_rows=10)
    sample = {"string": "x", "bool": False}
    event = {c.name: sample.get(c.type_name, 0) for c in columns.FIXED if c.scope == "event"}
    rows = {c: np.zeros(1) for c in columns.ROW if c != "doppler_hz"}
    with pytest.raises(ValueError, match="doppler_hz"):
        w.add(event, rows)
